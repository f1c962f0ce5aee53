// redis.test.mjs - the redis output against a real redis-server: partial
// window counts appended to scenario.stats through the collector become
// seed 001's `scenario:{sid}:success_ratio` values and their history, equal
// to sums computed here independently (exact strings); a partial emitted
// again replaces its earlier value; and Redis killed midway loses nothing
// and counts nothing twice once it is back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, post, until, metrics, sample,
  freePort, readTopic, rng, SLOW,
} from './lib.mjs';

// ---- a redis-server of our own ----------------------------------------------

function redisCli(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

// Append-only with fsync per write, so a kill -9 keeps what Redis acknowledged
// (sluice commits only after the acknowledgement; Redis must keep its side).
async function startRedis(port, dir) {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1',
    '--daemonize', 'no', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
    '--dir', dir], { stdio: 'ignore' });
  const r = { proc, exited: false };
  servers.add(r);
  r.exit = new Promise((resolve) => proc.on('exit', () => { r.exited = true; resolve(); }));
  await until('redis-server to answer', () => {
    if (r.exited) throw new Error('redis-server exited');
    return redisCli(port, 'PING') === 'PONG';
  });
  return r;
}

// Whatever a failed test left running is stopped, so the file can end.
const servers = new Set();
const killAll = () => { for (const r of servers) if (!r.exited) r.proc.kill('SIGKILL'); };
after(killAll);
process.on('exit', killAll);

async function stopRedis(r, signal = 'SIGTERM') {
  if (!r || r.exited) return;
  r.proc.kill(signal);
  await r.exit;
}

// ---- what Redis must hold, computed here ------------------------------------

// Python's round(x, 4) as json.dumps writes it (the seed's Spark job), from the
// exact binary value of the double x = success / total: half to even on exact
// ties, shortest form (0.85, 1.0, 0.0).
function pyRound4(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e = -1074;
  if (exp !== 0) {
    mant |= 1n << 52n;
    e = exp - 1075;
  }
  assert.ok(e <= 0, 'ratios are at most 1');
  const den = 1n << BigInt(-e);
  let q = (mant * 10000n) / den;
  const twice = 2n * ((mant * 10000n) % den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  let s = `${q / 10000n}.${String(q % 10000n).padStart(4, '0')}`.replace(/0+$/, '');
  return s.endsWith('.') ? s + '0' : s;
}

const pad = (n) => String(n).padStart(2, '0');
function updatedAt(epochS) {
  const d = new Date(epochS * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function valueOf(success, total, windowEnd) {
  const ratio = total ? pyRound4(success / total) : '0';
  return `{"success_ratio":${ratio},"total_count":${total},"success_count":${success},` +
    `"updated_at":"${updatedAt(windowEnd)}"}`;
}

// The ground truth: the last partial sent per (scenario, window, partition).
class Truth {
  constructor() { this.windows = new Map(); }
  add(p) {
    const start = Date.parse(p.window_start) / 1000;
    const k = `${p.scenario_id}|${start}`;
    if (!this.windows.has(k))
      this.windows.set(k, { sid: p.scenario_id, start, end: start + 5, parts: new Map() });
    this.windows.get(k).parts.set(p.partition, [p.success_count, p.total_count]);
  }
  expected() {
    const bySid = new Map();
    for (const w of this.windows.values()) {
      let s = 0, t = 0;
      for (const [a, b] of w.parts.values()) { s += a; t += b; }
      const v = valueOf(s, t, w.end);
      if (!bySid.has(w.sid)) bySid.set(w.sid, []);
      bySid.get(w.sid).push({ start: w.start, value: v, w });
    }
    for (const list of bySid.values()) list.sort((a, b) => a.start - b.start);
    return bySid;
  }
}

// Every key the output owns equals the truth: the latest value (the newest
// window), the history (one member per window, by start), each window's partials.
function mismatches(port, truth) {
  const out = [];
  for (const [sid, list] of truth.expected()) {
    const latest = redisCli(port, 'GET', `scenario:${sid}:success_ratio`);
    if (latest !== list[list.length - 1].value)
      out.push(`scenario ${sid} latest: ${latest} != ${list[list.length - 1].value}`);
    const hist = redisCli(port, 'ZRANGE', `scenario:${sid}:history`, '0', '-1', 'WITHSCORES');
    const want = list.flatMap((e) => [e.value, String(e.start)]).join('\n');
    if (hist !== want) out.push(`scenario ${sid} history:\n${hist}\n!=\n${want}`);
    for (const e of list) {
      const h = redisCli(port, 'HGETALL', `scenario:${sid}:window:${e.start}`).split('\n');
      const got = new Map();
      for (let i = 0; i + 1 < h.length; i += 2) got.set(h[i], h[i + 1]);
      for (const [p, [a, b]] of e.w.parts)
        if (got.get(`web.raw:p${p}`) !== `${a},${b}`)
          out.push(`scenario ${sid} window ${e.start} p${p}: ${got.get(`web.raw:p${p}`)} != ${a},${b}`);
      if (got.size !== e.w.parts.size) out.push(`scenario ${sid} window ${e.start}: ${h}`);
    }
  }
  return out;
}

async function converged(port, truth, what, timeoutMs = 20000) {
  let last = [];
  try {
    await until(what, () => {
      last = mismatches(port, truth);
      return last.length === 0;
    }, timeoutMs);
  } catch (e) {
    throw new Error(`${e.message}\n${last.slice(0, 5).join('\n')}`);
  }
}

const T0 = Date.parse('2026-01-11T09:19:25Z') / 1000;
const iso = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

function partial(sid, start, partition, success, total) {
  return { scenario_id: sid, window_start: iso(start), window_end: iso(start + 5), partition,
    source_topic: 'web.raw', success_count: success, total_count: total };
}

function config(dir, redisPort, extra = '') {
  return writeConfig(dir, `topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
outputs:
  - { type: redis, url: "redis://127.0.0.1:${redisPort}/0", flush_interval: 100ms${extra} }
`);
}

async function send(s, truth, partials) {
  for (let i = 0; i < partials.length; i += 50) {
    const batch = partials.slice(i, i + 50);
    const r = await post(s.collector + '/api/collect?topic=scenario.stats', JSON.stringify(batch));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, batch.length, r.text);
    for (const p of batch) truth.add(p);
  }
}

test('partials become the seed\'s values, exactly, through a Redis outage', async () => {
  const seed = Number(process.env.SL_TEST_SEED || 4242);
  const rand = rng(seed);
  const int = (n) => Math.floor(rand() * n);
  const dir = tmpdir();
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const port = await freePort();
  let redis = await startRedis(port, redisDir);
  const s = await startSluice(config(dir, port));
  const truth = new Truth();
  try {
    // Phase 1: 3 scenarios x 12 windows x 3 source partitions, shuffled, then
    // a third of them emitted again with recomputed counts.
    const sids = [5, 7, 12];
    const first = [];
    for (const sid of sids)
      for (let w = 0; w < 12; w++)
        for (let p = 0; p < 3; p++) {
          const total = 1 + int(40);
          first.push(partial(sid, T0 + 5 * w, p, int(total + 1), total));
        }
    // the seed's example (85 of 100) and a tie on an exact binary fraction (1/32)
    first.push(partial(99, T0, 0, 50, 60), partial(99, T0, 1, 35, 40));
    first.push(partial(98, T0, 2, 1, 32));
    for (let i = first.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [first[i], first[j]] = [first[j], first[i]];
    }
    await send(s, truth, first);
    const again = first.filter((p) => sids.includes(p.scenario_id) && rand() < 0.33).map((p) => {
      const total = p.total_count + int(10);
      return { ...p, total_count: total, success_count: int(total + 1) };
    });
    await send(s, truth, again);
    await converged(port, truth, 'Redis to hold the sums of the partials');
    assert.equal(redisCli(port, 'GET', 'scenario:99:success_ratio'),
      '{"success_ratio":0.85,"total_count":100,"success_count":85,"updated_at":"2026-01-11 09:19:30"}');
    assert.equal(redisCli(port, 'GET', 'scenario:98:success_ratio'),
      '{"success_ratio":0.0312,"total_count":32,"success_count":1,"updated_at":"2026-01-11 09:19:30"}');

    // A late window (older than the newest) goes to history, not to the latest value.
    const latest5 = redisCli(port, 'GET', 'scenario:5:success_ratio');
    await send(s, truth, [partial(5, T0 - 60, 1, 2, 3)]);
    await converged(port, truth, 'the late window in the history');
    assert.equal(redisCli(port, 'GET', 'scenario:5:success_ratio'), latest5);
    assert.equal(redisCli(port, 'ZSCORE', 'scenario:5:history',
      valueOf(2, 3, T0 - 55)), String(T0 - 60));

    let m = await metrics(s);
    assert.equal(sample(m, 'sluice_redis_up', { output: 'redis' }), 1);
    assert.ok(sample(m, 'sluice_redis_writes_total', { output: 'redis' }) >= truth.windows.size);

    // Phase 2: Redis dies. sluice keeps accepting, the output keeps running
    // (no restart), reports Redis down, and commits nothing.
    await stopRedis(redis, 'SIGKILL');
    const during = [];
    for (const sid of sids)
      for (let w = 10; w < 16; w++)          // two windows seen before, four new
        for (let p = 0; p < 3; p++) {
          const total = 1 + int(40);
          during.push(partial(sid, T0 + 5 * w, p, int(total + 1), total));
        }
    await send(s, truth, during);
    await until('sluice_redis_up to drop to 0', async () =>
      sample(await metrics(s), 'sluice_redis_up', { output: 'redis' }) === 0);
    await until('the sent partials to be read and held', async () =>
      sample(await metrics(s), 'sluice_redis_buffered', { output: 'redis' }) > 0);
    await send(s, truth, during.slice(0, 9).map((p) => ({ ...p, success_count: 0 })));
    m = await metrics(s);
    const lag = [0, 1, 2].reduce((n, p) => n + sample(m, 'sluice_consumer_lag',
      { group: 'sluice.redis', topic: 'scenario.stats', partition: p }), 0);
    assert.ok(lag >= during.length + 9, `nothing committed while Redis is down (lag ${lag})`);
    assert.equal(sample(m, 'sluice_stage_restarts_total', { stage: 'redis', kind: 'output' }), 0);
    assert.ok(sample(m, 'sluice_redis_errors_total', { output: 'redis' }) >= 1);
    assert.equal(s.exited, null);
    assert.match(s.stderr, /warn +\[output:redis\] redis 127\.0\.0\.1:\d+\/0 is down \(.*\); holding/);
    assert.equal(s.stderr.match(/\[output:redis\] redis \S+ is down/g).length, 1,
      'one warning while it is down');

    // Phase 3: Redis is back on the same port with what it had acknowledged;
    // everything held is written, nothing lost, nothing counted twice.
    redis = await startRedis(port, redisDir);
    await converged(port, truth, 'every value after Redis came back', 30000);
    m = await metrics(s);
    assert.equal(sample(m, 'sluice_redis_up', { output: 'redis' }), 1);
    assert.equal(sample(m, 'sluice_redis_buffered', { output: 'redis' }), 0);
    await until('offsets committed', async () => {
      const mm = await metrics(s);
      return [0, 1, 2].every((p) => sample(mm, 'sluice_consumer_lag',
        { group: 'sluice.redis', topic: 'scenario.stats', partition: p }) === 0);
    });
    assert.match(s.stderr, /\[output:redis\] redis \S+ is reachable again/);
  } finally {
    const r = await stopSluice(s);
    await stopRedis(redis);
    assert.equal(r.code, 0, s.stderr);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, { timeout: 180000 * SLOW });

test('a restart of sluice while Redis is down loses nothing', async () => {
  const dir = tmpdir();
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const port = await freePort();
  const cfg = config(dir, port);
  const truth = new Truth();
  // Redis is not there at all when sluice starts.
  let s = await startSluice(cfg);
  let redis = null;
  try {
    await send(s, truth, [partial(3, T0, 0, 1, 2), partial(3, T0, 1, 2, 2)]);
    await until('sluice_redis_up 0', async () =>
      sample(await metrics(s), 'sluice_redis_up', { output: 'redis' }) === 0);
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    s = await startSluice(cfg);
    await send(s, truth, [partial(3, T0, 2, 3, 4), partial(3, T0 + 5, 0, 0, 1)]);
    redis = await startRedis(port, redisDir);
    await converged(port, truth, 'the values written after the restart', 30000);
    assert.equal(redisCli(port, 'GET', 'scenario:3:success_ratio'),
      '{"success_ratio":0.0,"total_count":1,"success_count":0,"updated_at":"2026-01-11 09:19:35"}');
    assert.equal(redisCli(port, 'ZRANGE', 'scenario:3:history', '0', '0'),
      '{"success_ratio":0.75,"total_count":8,"success_count":6,"updated_at":"2026-01-11 09:19:30"}');
  } finally {
    await stopSluice(s);
    await stopRedis(redis);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, { timeout: 120000 * SLOW });

test('max_buffer: a full buffer is flushed at once, and while Redis is down reading stops', async () => {
  const dir = tmpdir();
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const port = await freePort();
  let redis = await startRedis(port, redisDir);
  // flush_interval of an hour: only a full buffer makes this output write
  const s = await startSluice(config(dir, port, ', flush_interval: 1h, max_buffer: 3')
    .replace(', flush_interval: 100ms', ''));
  const truth = new Truth();
  const buffered = async () => sample(await metrics(s), 'sluice_redis_buffered', { output: 'redis' });
  const lag = async () => {
    const m = await metrics(s);
    return [0, 1, 2].reduce((n, p) => n + sample(m, 'sluice_consumer_lag',
      { group: 'sluice.redis', topic: 'scenario.stats', partition: p }), 0);
  };
  try {
    await send(s, truth, [partial(1, T0, 0, 1, 1), partial(1, T0 + 5, 0, 1, 2)]);
    await until('2 updates held', async () => (await buffered()) === 2);
    assert.equal(redisCli(port, 'EXISTS', 'scenario:1:success_ratio'), '0', 'held, not written');
    await send(s, truth, [partial(1, T0 + 10, 0, 2, 3)]);
    await converged(port, truth, 'a full buffer written at once');
    assert.equal(await buffered(), 0);

    await stopRedis(redis, 'SIGKILL');
    await send(s, truth, [partial(1, T0 + 15, 0, 0, 1), partial(1, T0 + 15, 1, 1, 1),
      partial(1, T0 + 20, 0, 3, 3)]);
    await until('3 updates held', async () => (await buffered()) === 3);
    await send(s, truth, [partial(1, T0 + 25, 0, 1, 4), partial(1, T0 + 30, 0, 1, 5),
      partial(1, T0 + 35, 2, 1, 6)]);
    await until('all 6 records appended and uncommitted', async () => (await lag()) === 6);
    await new Promise((r) => setTimeout(r, 300 * SLOW));
    assert.equal(await buffered(), 3, 'reading stopped at max_buffer');
    assert.equal(await lag(), 6, 'nothing committed');

    redis = await startRedis(port, redisDir);
    await converged(port, truth, 'everything after Redis came back', 30000);
  } finally {
    await stopSluice(s);
    await stopRedis(redis);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, { timeout: 120000 * SLOW });

test('unusable records are dead-lettered with the reason; the rest is written', async () => {
  const dir = tmpdir();
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const port = await freePort();
  const redis = await startRedis(port, redisDir);
  const s = await startSluice(config(dir, port, ', key_prefix: "app:"'));
  try {
    const good = partial(4, T0, 0, 3, 4);
    const bad = [
      { ...partial(4, T0, 1, 5, 4) },                            // success > total
      { scenario_id: 'a b', window_start: iso(T0), window_end: iso(T0 + 5), partition: 0,
        success_count: 1, total_count: 1 },
      { scenario_id: 4, window_start: iso(T0), success_count: 1, total_count: 1 },
    ];
    const r = await post(s.collector + '/api/collect?topic=scenario.stats',
      JSON.stringify([bad[0], good, bad[1], bad[2]]));
    assert.equal(r.json.accepted, 4, r.text);
    await until('the good partial written', () =>
      redisCli(port, 'GET', 'app:4:success_ratio') ===
      '{"success_ratio":0.75,"total_count":4,"success_count":3,"updated_at":"2026-01-11 09:19:30"}');
    await until('3 records counted invalid', async () =>
      sample(await metrics(s), 'sluice_redis_invalid_records_total', { output: 'redis' }) === 3);
    const dlq = readTopic(path.join(dir, 'data'), '_dlq').map((r) => r.value)
      .filter((v) => v.source === 'output:redis');
    assert.equal(dlq.length, 3);
    for (const v of dlq) {
      assert.equal(v.reason, 'bad_record');
      assert.equal(v.topic, 'scenario.stats');
    }
    const why = (re) => dlq.find((v) => re.test(v.error));
    assert.deepEqual(JSON.parse(why(/success_count 5 exceeds total_count 4/).original), bad[0]);
    assert.deepEqual(JSON.parse(why(/scenario_id may hold only/).original), bad[1]);
    assert.deepEqual(JSON.parse(why(/no window_end/).original), bad[2]);
    assert.equal(redisCli(port, 'KEYS', 'scenario:*'), '', 'key_prefix applies to every key');
  } finally {
    await stopSluice(s);
    await stopRedis(redis);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('sluice check names bad redis settings with file and line', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, `topics:
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
collector:
  routes: []
outputs:
  - type: redis
    history: 0
    url: rediss://cache:6379
  - { type: redis, name: r2, url: "redis://h:70000", mode: lpush }
`);
  const r = sluice(['check', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file}:8: output 'redis': url: rediss:// \\(TLS\\) is not supported`));
  assert.match(r.stderr, new RegExp(`${file}:7: output 'redis': history must be from 1`));
  assert.match(r.stderr, new RegExp(`${file}:9: mode must be one of scenario_ratio`));
  fs.writeFileSync(file, `topics:
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
collector:
  routes: []
outputs:
  - { type: redis }
`);
  const ok = sluice(['check', '-c', file]);
  assert.equal(ok.code, 0, ok.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});
