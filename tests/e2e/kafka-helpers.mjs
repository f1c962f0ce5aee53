// kafka-helpers.mjs - what the kafka-*.test.mjs files share (not a test
// file itself): the mock cluster host (build/tools/kafka_mock) with its
// fault-injection line protocol, kcat as the independent Kafka client, a
// throw-away PostgreSQL cluster (the catalogue several workers share),
// sluice worker configurations on the Kafka backend, DuckDB over a lake,
// and the scenario ground truth computed without sluice.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BIN, freePort, until } from './lib.mjs';

const TOOLS = process.env.SLUICE_TOOLS || path.join(path.dirname(BIN), 'tools');
export const MOCK = path.join(TOOLS, 'kafka_mock');
export const HAVE_KCAT = spawnSync('kcat', ['-V']).status === 0;
const PG_BIN = '/usr/lib/postgresql/15/bin';
export const HAVE_PG = fs.existsSync(path.join(PG_BIN, 'initdb'));

// The seed-004 topics plus seed 001's, as the workers declare them.
export const SEED_TOPICS = ['logs.raw:3', 'events.activity:3', 'alerts.realtime:1', '_dlq:1',
  'web.raw:3', 'scenario.results:3', 'scenario.stats:3'];

// ---- the mock cluster --------------------------------------------------------

export async function startMock(topics = SEED_TOPICS) {
  const proc = spawn(MOCK, topics.flatMap((t) => ['--topic', t]), { stdio: ['pipe', 'pipe', 'pipe'] });
  const m = { proc, out: '', err: '', answers: [] };
  proc.stdout.on('data', (d) => {
    m.out += d;
    for (const line of String(d).split('\n')) if (/^(OK|ERR)/.test(line)) m.answers.push(line);
  });
  proc.stderr.on('data', (d) => (m.err += d));
  m.exit = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  m.bootstrap = await until('kafka_mock to print BOOTSTRAP', () => {
    const r = m.out.match(/^BOOTSTRAP (\S+)$/m);
    return r && r[1];
  });
  m.command = async (line) => {
    const n = m.answers.length;
    proc.stdin.write(line + '\n');
    const answer = await until(`kafka_mock to answer "${line}"`, () => m.answers[n]);
    assert.equal(answer, 'OK', `${line}: ${answer}`);
  };
  m.stop = async () => {
    proc.stdin.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    const r = await m.exit;
    clearTimeout(timer);
    return r;
  };
  return m;
}

// ---- kcat ----------------------------------------------------------------------

// Every record of a topic: [{ partition, offset, key, value (parsed) }].
export function kcatRead(bootstrap, topic) {
  const r = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q',
    '-f', '%p\t%o\t%k\t%s\n'], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 60000 });
  assert.equal(r.status, 0, `kcat -C ${topic}: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((line) => {
    const [p, o, key, ...rest] = line.split('\t');
    return { partition: Number(p), offset: Number(o), key, value: JSON.parse(rest.join('\t')) };
  });
}

// Produce lines "key|value" (or plain values) with kcat -P; resolves when kcat is done.
export function kcatProduce(bootstrap, topic, lines, { keyed = true, partition } = {}) {
  const args = ['-P', '-b', bootstrap, '-t', topic, ...(keyed ? ['-K', '|'] : []),
    ...(partition !== undefined ? ['-p', String(partition)] : [])];
  const r = spawnSync('kcat', args, { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `kcat -P ${topic}: ${r.stderr}`);
}

// ---- PostgreSQL: one throw-away cluster, a database per test -------------------

function asPostgres(cmd) {
  const root = process.getuid() === 0;
  const r = root
    ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd], { encoding: 'utf8', timeout: 60000 })
    : spawnSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${cmd}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export async function startPostgres(dir) {
  const root = path.join(dir, 'pg');
  fs.mkdirSync(root, { recursive: true });
  // The server runs as postgres: it must reach its directory.
  for (let d = root; d !== '/' && d !== path.dirname(d); d = path.dirname(d)) {
    const mode = fs.statSync(d).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(d, mode | 0o011);
  }
  if (process.getuid() === 0) spawnSync('chown', ['postgres:postgres', root]);
  const port = await freePort();
  asPostgres(`${PG_BIN}/initdb --no-sync -A trust -U postgres -D ${root}/data >/dev/null`);
  asPostgres(`${PG_BIN}/pg_ctl -D ${root}/data -l ${root}/log -w -t 30 -o "-p ${port} -k ${root} ` +
    `-c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" start >/dev/null`);
  let n = 0;
  return {
    // A fresh database; its libpq connection string.
    createdb() {
      const name = `sluice${++n}`;
      asPostgres(`${PG_BIN}/../bin/createdb -h 127.0.0.1 -p ${port} -U postgres ${name}`);
      return `host=127.0.0.1 port=${port} user=postgres dbname=${name} connect_timeout=5`;
    },
    stop() {
      asPostgres(`${PG_BIN}/pg_ctl -D ${root}/data -m immediate stop >/dev/null`);
    },
  };
}

// ---- workers ---------------------------------------------------------------------

export const TOPICS_YAML = `topics:
  logs.raw:
    partitions: 3
    key: service
    require: { level: string, service: string, message: string }
  events.activity:
    partitions: 3
    key: user_id
    require: { event_id: string, user_id: string, event_type: string }
  alerts.realtime: { partitions: 1, retention: 1d }
  web.raw: { partitions: 3, key: memberId }
  scenario.results: { partitions: 3, key: scenario_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
`;

// One sluice worker: its own data_dir and loopback ports, the lake at a
// shared path, the scenario processor, on Kafka (bootstrap) or embedded
// (bootstrap null), with the catalogue in PostgreSQL (conninfo) or SQLite.
export function workerConfig(dir, name, { bootstrap, lake, conninfo, kafkaExtra = {}, extra = '', scenario = true,
  lakeExtra = '' }) {
  const file = path.join(dir, `${name}.yaml`);
  const kafka = {
    'bootstrap.servers': bootstrap, 'sluice.timeout.ms': 5000, 'sluice.metrics.refresh.ms': 500,
    // the mock rebalances on heartbeats, and a killed worker leaves by its session
    'session.timeout.ms': 6000, 'heartbeat.interval.ms': 250, 'linger.ms': 2, ...kafkaExtra,
  };
  fs.writeFileSync(file, `data_dir: ${dir}/${name}
log_level: info
${bootstrap ? `log: { backend: kafka }
kafka:
${Object.entries(kafka).map(([k, v]) => `  ${k}: "${v}"`).join('\n')}` : 'log: { fsync: group }'}
${TOPICS_YAML}collector:
  listen: 127.0.0.1:0
  routes:
    - { when: 'has(level)', topic: logs.raw }
    - { when: 'has(event_type)', topic: events.activity }
admin:
  listen: 127.0.0.1:0
${conninfo ? `catalogue: { postgres: "${conninfo}" }\n` : ''}processors:
${scenario ? '  - { type: scenario, flush_interval: 200ms, idle: 1s, lateness: 1s }' : '  []'}
outputs:
  - { type: lake, from: [logs.raw, events.activity], path: ${lake}, flush_interval: 1s${lakeExtra} }
${extra}`);
  return file;
}

// ---- DuckDB over a lake ----------------------------------------------------------

export async function duck() {
  const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await inst.connect();
  return {
    q: async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson(),
    close() {
      con.closeSync?.();
      inst.closeSync?.();
    },
  };
}

export function lakeFiles(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...lakeFiles(p));
    else if (e.name.endsWith('.parquet') && !e.name.startsWith('.')) out.push(p);
  }
  return out;
}

// Rows of a topic's lake, 0 before the first file.
export async function lakeCount(db, lake, topic) {
  if (!lakeFiles(path.join(lake, topic)).length) return 0;
  const [r] = await db.q(`SELECT count(*) AS n FROM read_parquet('${lake}/${topic}/**/*.parquet', hive_partitioning=true, union_by_name=true)`);
  return Number(r.n);
}

// ---- scenarios: the definitions and the truth computed here ------------------------

export const SCENARIOS = [
  { scenario_id: 5, title: 'adult men after 9', manager: 'test',
    log_format: { memberId: 1, h: 1, uid: 1 },
    filters: [{ left: 'age', operator: '>', right: '20' }, { left: 'gender', operator: '==', right: 'MALE' },
      { left: 'h', operator: '>=', right: '9' }], logical_operator: 'AND' },
  { scenario_id: 6, title: 'purchases or mornings', manager: 'test',
    log_format: { e_c: 1, uid: 1 },
    filters: [{ left: 'e_c', operator: '==', right: 'purchase' }, { left: 'h', operator: '<', right: '12' }],
    logical_operator: 'OR' },
];

// members: Map id -> { age, gender } from gen web's --members-csv file.
export function readMembers(file) {
  const m = new Map();
  for (const line of fs.readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
    const [id, age, gender] = line.split(',');
    m.set(id, { age: age === '' ? undefined : Number(age), gender: gender || undefined });
  }
  return m;
}

function success(sid, ev, members) {
  const m = members.get(String(ev.memberId)) || {};
  const h = Number(ev.h);
  if (sid === 5) return m.age !== undefined && m.age > 20 && m.gender === 'MALE' && h >= 9;
  return ev.e_c === 'purchase' || h < 12;
}

// "sid|window_start ISO" -> { total, success } over 5-second windows.
export function scenarioTruth(events, members) {
  const w = new Map();
  for (const ev of events) {
    const sid = Number(ev.scenario_id);
    const ms = Date.parse(ev.timestamp);
    const start = new Date(Math.floor(ms / 5000) * 5000).toISOString().replace('.000Z', 'Z');
    const k = `${sid}|${start}`;
    const c = w.get(k) || { total: 0, success: 0 };
    c.total++;
    if (success(sid, ev, members)) c.success++;
    w.set(k, c);
  }
  return w;
}

// The windows /api/stats/scenarios reports, in the same shape.
export async function scenarioStats(admin) {
  const res = await fetch(`${admin}/api/stats/scenarios?history=10000`);
  assert.equal(res.status, 200);
  const w = new Map();
  for (const s of (await res.json()).scenarios)
    for (const h of s.history) w.set(`${s.scenario_id}|${h.window_start}`, { total: h.total_count, success: h.success_count });
  return w;
}

export function sameWindows(a, b) {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const o = b.get(k);
    if (!o || o.total !== v.total || o.success !== v.success) return false;
  }
  return true;
}

export function showWindows(w) {
  return [...w].sort().map(([k, v]) => `${k}=${v.success}/${v.total}`).join(' ');
}

// Scenarios and members into a catalogue through the admin API.
export async function loadCatalogue(admin, membersCsv) {
  for (const s of SCENARIOS) {
    const r = await fetch(`${admin}/api/scenarios`, { method: 'POST', body: JSON.stringify(s),
      headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 201, await r.text());
  }
  const r = await fetch(`${admin}/api/members`, { method: 'POST', body: fs.readFileSync(membersCsv),
    headers: { 'Content-Type': 'text/csv' } });
  assert.equal(r.status, 200, await r.text());
}
