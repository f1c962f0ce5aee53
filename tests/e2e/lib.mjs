// lib.mjs - helpers for the end-to-end tests: run the real sluice binary on
// loopback ports under a temporary directory, talk to it over HTTP, stop it.
// Every wait polls a condition with a deadline; nothing sleeps blindly.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.SLUICE_BIN || path.join(ROOT, 'build/sluice');
export const SANITIZED = BIN.includes('/asan/');
// Sanitized builds run several times slower: scale loads down, deadlines up.
export const SCALE = SANITIZED ? 0.25 : 1;
export const SLOW = SANITIZED ? 4 : 1;

export function tmpdir(prefix = 'sluice-e2e-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function until(what, fn, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs * SLOW;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

// A config with both listeners on ephemeral ports; extra YAML is appended.
export function writeConfig(dir, extra = '') {
  const file = path.join(dir, 'sluice.yaml');
  const topics = `topics:
  logs.raw:
    partitions: 3
    key: service
    require: { level: string, service: string, message: string }
  events.activity:
    partitions: 3
    key: user_id
    require: { event_id: string, user_id: string, event_type: string }
  alerts.realtime: { partitions: 1, retention: 1d }
`;
  fs.writeFileSync(file, `data_dir: ${dir}/data
log_level: info
log: { fsync: group }
${extra.includes('topics:') ? '' : topics}collector:
  listen: 127.0.0.1:0
${extra.includes('  routes:') ? '' : `  routes:
    - { when: 'has(level)', topic: logs.raw }
    - { when: 'has(event_type)', topic: events.activity }
`}admin:
  listen: 127.0.0.1:0
${extra}`);
  return file;
}

// Start `sluice run`; resolves once both listeners answer /health.
export async function startSluice(config, { args = [], env = {} } = {}) {
  const proc = spawn(BIN, ['run', '-c', config, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = { proc, stderr: '', stdout: '', exited: null };
  proc.stderr.on('data', (d) => (s.stderr += d));
  proc.stdout.on('data', (d) => (s.stdout += d));
  s.exit = new Promise((resolve) =>
    proc.on('exit', (code, signal) => {
      s.exited = { code, signal };
      resolve(s.exited);
    }),
  );
  const port = (tag) => {
    const m = s.stderr.match(new RegExp(`\\[${tag}\\] listening on \\S+ \\(port (\\d+)\\)`));
    return m && Number(m[1]);
  };
  await until('sluice to listen', () => {
    if (s.exited) throw new Error(`sluice exited ${JSON.stringify(s.exited)}:\n${s.stderr}`);
    return (args.includes('--only') ? true : port('admin')) && port('collector');
  }, 15000);
  s.collector = `http://127.0.0.1:${port('collector')}`;
  s.admin = port('admin') ? `http://127.0.0.1:${port('admin')}` : null;
  await until('collector health', async () => (await fetch(s.collector + '/health')).ok);
  return s;
}

export async function stopSluice(s, signal = 'SIGTERM') {
  if (!s || s.exited) return s && s.exited;
  s.proc.kill(signal);
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 20000 * SLOW);
  const r = await s.exit;
  clearTimeout(timer);
  return r;
}

export function sluice(args, opts = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}

export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json, headers: res.headers };
}

export async function metrics(s) {
  return (await fetch(s.admin + '/metrics')).text();
}

// The value of one sample in Prometheus text, or 0 when absent.
export function sample(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const have = {};
    for (const kv of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have[kv[1]] = kv[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === String(v))) return Number(m[4]);
  }
  return 0;
}

// Kafka's Java client murmur2 (org.apache.kafka.common.utils.Utils.murmur2),
// written independently here to check where sluice put each key.
export function murmur2(buf) {
  const m = 0x5bd1e995;
  let h = (0x9747b28c ^ buf.length) | 0;
  const len4 = buf.length >> 2;
  for (let i = 0; i < len4; i++) {
    const o = i * 4;
    let k = buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = buf.length & 3;
  const o = buf.length - rest;
  if (rest === 3) h ^= buf[o + 2] << 16;
  if (rest >= 2) h ^= buf[o + 1] << 8;
  if (rest >= 1) {
    h ^= buf[o];
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

export function partitionFor(key, partitions) {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

// Read every record of a topic with `sluice log tail --meta`.
export function readTopic(dataDir, topic) {
  const r = sluice(['log', 'tail', topic, '--from-beginning', '--meta', '--data', dataDir]);
  if (r.code !== 0) throw new Error(`log tail ${topic} failed (${r.code}): ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// A free loopback port (for tests that restart sluice on the same address).
export async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Run a command in the background; resolves with its exit and output.
export function background(args) {
  const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { proc, stdout: '', stderr: '' };
  proc.stdout.on('data', (d) => (r.stdout += d));
  proc.stderr.on('data', (d) => (r.stderr += d));
  r.done = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return r;
}

// A tiny deterministic PRNG for test schedules (seed printed on failure).
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
