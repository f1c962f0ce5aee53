// tail.test.mjs - the NGINX tail input against the real binary. sluice gen
// web writes the NGINX lines of a traffic with ground truth; the test plays
// NGINX, feeding them into access.log while it rotates the file by rename
// (NGINX still writing to the old one for a while) and by copytruncate,
// kills sluice with SIGKILL midway and rotates again while it is down. In
// the end web.raw holds every generated line exactly once, with the
// parameters the ground truth lists, and the same traffic sent through the
// tracking pixel gives the same events. Bad lines are in _dlq.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, metrics, sample, readTopic, sluice, until,
  SCALE,
} from './lib.mjs';

const dirs = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const TOPICS = `topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  web.raw: { partitions: 3, key: memberId }
`;
const START = '2025-06-18T00:00:00Z';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const GEN = (n) => ['gen', 'web', '--count', String(n), '--seed', '42', '--start', START,
  '--scenarios', '5,6,7', '--members', '300', '--no-progress'];

test('NGINX lines through rotations and a kill -9: every line in web.raw exactly once, as the pixel gives them', async () => {
  const dir = tmpdir('sluice-tail-');
  dirs.push(dir);
  const n = Math.max(2000, Math.round(12000 * SCALE));
  const stage = path.join(dir, 'stage.log');
  const truthFile = path.join(dir, 'truth.jsonl');
  let r = sluice([...GEN(n), '--to', `file:${stage}`, '--truth', truthFile]);
  assert.equal(r.code, 0, r.stderr);
  const lines = fs.readFileSync(stage, 'utf8').split('\n').filter(Boolean);
  assert.equal(lines.length, n);
  const truth = new Map(fs.readFileSync(truthFile, 'utf8').trim().split('\n').map((l) => {
    const t = JSON.parse(l);
    return [t.uid, t];
  }));

  const access = path.join(dir, 'access.log');
  const cfg = writeConfig(dir, `${TOPICS}inputs:
  - name: nginx
    type: tail
    path: ${access}
    refresh_interval: 100ms
    rotate_wait: 300ms
    poll_interval: 20ms
    batch: 500
`);
  const write = (file, from, to) =>
    fs.appendFileSync(file, lines.slice(from, to).map((l) => l + '\n').join(''));
  const at = (f) => Math.round(n * f);
  const feed = async (from, to, chunks = 8) => {
    const step = Math.max(1, Math.ceil((to - from) / chunks));
    for (let i = from; i < to; i += step) {
      write(access, i, Math.min(to, i + step));
      await sleep(15);
    }
  };

  let s = await startSluice(cfg);
  // 1. Plain lines, one of them arriving in two writes.
  await feed(0, at(0.1));
  const half = lines[at(0.1)].length >> 1;
  fs.appendFileSync(access, lines[at(0.1)].slice(0, half));
  await sleep(80);
  fs.appendFileSync(access, lines[at(0.1)].slice(half) + '\n');
  // Two malformed lines and one over max_line_size (64 KiB) go to _dlq.
  fs.appendFileSync(access, 'this is not an access log line\n');
  fs.appendFileSync(access, `${'y'.repeat(100000)}\n`);
  fs.appendFileSync(access, '127.0.0.1 - - [18/Jun/2025:09:00:00 +0900] "GET /5?e_n=%G1 HTTP/1.1" 200 43 "-" "-"\n');
  await feed(at(0.1) + 1, at(0.25));

  // 2. Rotation by rename; NGINX writes to the old file until it reopens.
  const old = fs.openSync(access, 'a');
  fs.renameSync(access, `${access}.1`);
  await sleep(150);
  fs.writeSync(old, lines.slice(at(0.25), at(0.3)).map((l) => l + '\n').join(''));
  fs.closeSync(old);
  await feed(at(0.3), at(0.45));

  // 3. kill -9 while lines are flowing.
  write(access, at(0.45), at(0.5));
  await sleep(5);
  await stopSluice(s, 'SIGKILL');

  // 4. While sluice is down: more lines, a rename, a new file.
  write(access, at(0.5), at(0.55));
  fs.renameSync(access, `${access}.2`);
  write(access, at(0.55), at(0.6));
  s = await startSluice(cfg);
  await feed(at(0.6), at(0.7));

  // 5. copytruncate while running: the copy holds what was not read yet.
  write(access, at(0.7), at(0.75));
  fs.copyFileSync(access, `${access}-20250618`);
  fs.truncateSync(access, 0);
  await feed(at(0.75), at(0.85));

  // 6. copytruncate while down.
  await stopSluice(s, 'SIGKILL');
  write(access, at(0.85), at(0.9));
  fs.copyFileSync(access, `${access}-20250619`);
  fs.truncateSync(access, 0);
  write(access, at(0.9), at(0.95));
  s = await startSluice(cfg);
  await feed(at(0.95), n);

  const data = `${dir}/data`;
  await until('every line in web.raw', () => readTopic(data, 'web.raw').length >= n, 60000);
  await sleep(500); // nothing more may come
  const m = await metrics(s);
  assert.ok(sample(m, 'sluice_tail_rotations_total', { input: 'nginx', kind: 'truncate' }) >= 1);
  assert.equal(sample(m, 'sluice_tail_files', { input: 'nginx' }) >= 1, true);
  const exit = await stopSluice(s);
  assert.equal(exit.code, 0, s.stderr);

  const events = readTopic(data, 'web.raw');
  assert.equal(events.length, n, 'web.raw holds more or fewer events than lines were written');
  const byUid = new Map();
  const startMs = Date.parse(START);
  for (const { value } of events) {
    assert.ok(!byUid.has(value.uid), `uid ${value.uid} twice`);
    byUid.set(value.uid, value);
    const t = truth.get(value.uid);
    assert.ok(t, `unknown uid ${value.uid}`);
    const { scenario_id, ip, user_agent, referer, ts, ...params } = value;
    assert.equal(scenario_id, t.scenario_id);
    assert.deepEqual(params, t.params);
    assert.equal(referer, t.params.url);
    assert.match(ip, /^(10|198)\./);
    // $time_local has whole seconds: the generator's instant, truncated.
    const index = Number(value.uid.split('-')[2]);
    assert.equal(Date.parse(ts), Math.floor((startMs + index) / 1000) * 1000, value.uid);
  }
  assert.equal(byUid.size, truth.size);

  const dead = readTopic(data, '_dlq').map((x) => x.value);
  assert.deepEqual(dead.map((d) => d.reason).sort(), ['bad_query', 'line_too_long', 'malformed_line']);
  for (const d of dead) assert.equal(d.source, 'tail');
  const long = dead.find((d) => d.reason === 'line_too_long');
  assert.match(long.error, /line of 100001 bytes exceeds max_line_size \(65536\)/);
  assert.equal(long.original, 'y'.repeat(1024));

  // The same traffic through the tracking pixel gives the same events.
  const pdir = tmpdir('sluice-tail-pixel-');
  dirs.push(pdir);
  const p = await startSluice(writeConfig(pdir, TOPICS));
  r = sluice([...GEN(n), '--concurrency', '4', '--to', p.collector]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await stopSluice(p)).code, 0);
  const viaPixel = readTopic(`${pdir}/data`, 'web.raw');
  assert.equal(viaPixel.length, n);
  const strip = ({ ip, ts, ...rest }) => rest;
  for (const { value, key } of viaPixel) {
    const fromTail = byUid.get(value.uid);
    assert.ok(fromTail, `pixel uid ${value.uid} not in the tail's events`);
    assert.deepEqual(strip(value), strip(fromTail), value.uid);
    assert.equal(key, value.memberId ?? null);
  }
});

test('a tail input with a bad format or an undeclared topic is refused by sluice check', () => {
  const dir = tmpdir('sluice-tail-check-');
  dirs.push(dir);
  const cfg = writeConfig(dir, `${TOPICS}inputs:
  - { type: tail, path: /tmp/x.log, format: '$remote_addr$remote_user' }
  - { type: tail, name: other, path: /tmp/y.log, topic: nowhere }
  - { type: tail, name: third }
`);
  const r = sluice(['check', '-c', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /sluice\.yaml:\d+: input 'tail': format: .*with no text between them/);
  assert.match(r.stderr, /sluice\.yaml:\d+: input 'other': topic names undeclared topic 'nowhere'/);
  assert.match(r.stderr, /sluice\.yaml:\d+: input 'third' needs path/);
});
