// redis-scenario.test.mjs - seed 001 end to end into Redis: tracking events
// on web.raw -> the scenario processor -> partials on scenario.stats -> the
// redis output -> `scenario:{sid}:success_ratio` and its history, equal to
// the counts per 5-second window computed here from the events and the
// members; with Redis killed and restarted while events keep coming.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, post, until, metrics, sample, freePort,
  rng, SCALE, SLOW,
} from './lib.mjs';

function redisCli(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

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

// The seed's value for a window, written independently of sluice: Python's
// round(x, 4) through json.dumps, from the exact value of the double.
function pyRound4(x) {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e = -1074;
  if (exp !== 0) { mant |= 1n << 52n; e = exp - 1075; }
  const den = 1n << BigInt(-e);
  let q = (mant * 10000n) / den;
  const twice = 2n * ((mant * 10000n) % den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  const s = `${q / 10000n}.${String(q % 10000n).padStart(4, '0')}`.replace(/0+$/, '');
  return s.endsWith('.') ? s + '0' : s;
}
const pad = (n) => String(n).padStart(2, '0');
const seedTime = (ms) => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const value = (c, endMs) =>
  `{"success_ratio":${c.total ? pyRound4(c.success / c.total) : '0'},"total_count":${c.total},` +
  `"success_count":${c.success},"updated_at":"${seedTime(endMs)}"}`;

const SCENARIOS = [
  { scenario_id: 5, title: 'seed 001: adult men clicking after 9', manager: 'admin_user',
    log_format: { memberId: 1, h: 1 },
    filters: [{ left: 'age', operator: '>', right: '20' },
      { left: 'gender', operator: '==', right: 'MALE' },
      { left: 'h', operator: '>=', right: '9' }],
    logical_operator: 'AND' },
  { scenario_id: 8, title: 'women or the night shift', manager: 'admin_user',
    log_format: { memberId: 1 },
    filters: [{ left: 'gender', operator: '==', right: 'FEMALE' },
      { left: 'h', operator: '<', right: '6' }],
    logical_operator: 'OR' },
];

function success(sid, ev, m) {
  const age = m?.age ?? undefined, gender = m?.gender ?? undefined, h = Number(ev.h);
  if (sid === 5) return age !== undefined && age > 20 && gender === 'MALE' && h >= 9 ? 1 : 0;
  return gender === 'FEMALE' || h < 6 ? 1 : 0;
}

const WINDOW = 5000;

test('web.raw -> scenario processor -> redis: every window equals the ground truth', async (t) => {
  const random = rng(Number(process.env.SL_TEST_SEED || 2001));
  const dir = tmpdir();
  const redisDir = path.join(dir, 'redis');
  fs.mkdirSync(redisDir);
  const port = await freePort();
  const cfg = writeConfig(dir, `topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  web.raw: { partitions: 3, key: memberId, timestamp: ts }
  scenario.results: { partitions: 3, key: scenario_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
processors:
  - { type: scenario, flush_interval: 200ms, idle: 1s, lateness: 1s }
outputs:
  - { type: redis, url: "redis://127.0.0.1:${port}/0", flush_interval: 100ms }
`);
  const check = sluice(['check', '-c', cfg]);
  if (/unknown processor type 'scenario'/.test(check.stderr)) {
    t.skip('this build has no scenario processor');
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }
  assert.equal(check.code, 0, check.stderr);
  let redis = await startRedis(port, redisDir);
  const s = await startSluice(cfg);
  try {
    const members = new Map();
    for (let i = 0; i < 200; i++)
      members.set(String(500000 + i), {
        age: i % 11 === 0 ? null : 16 + Math.floor(random() * 50),
        gender: i % 7 === 0 ? null : random() < 0.5 ? 'MALE' : 'FEMALE',
      });
    const rows = [...members].map(([id, m]) => ({ member_id: id, age: m.age, gender: m.gender }));
    let r = await post(`${s.admin}/api/members`, JSON.stringify(rows));
    assert.equal(r.status, 200, r.text);
    for (const sc of SCENARIOS) {
      r = await post(`${s.admin}/api/scenarios`, JSON.stringify(sc));
      assert.equal(r.status, 201, r.text);
    }

    const counts = new Map(); // `${sid}|${windowStartMs}` -> {success, total}
    const base = Math.floor((Date.now() - 300000) / WINDOW) * WINDOW;
    async function sendEvents(n, from) {
      const events = [];
      for (let i = 0; i < n; i++) {
        const sid = random() < 0.6 ? 5 : 8;
        const member = String(500000 + Math.floor(random() * 210)); // some without a row
        const ts = from + Math.floor((i * 30000) / n);
        const ev = { scenario_id: sid, e_c: 'buttonClick', e_a: 'Clicked', memberId: member,
          h: Math.floor(random() * 24), ts };
        events.push(ev);
        const k = `${sid}|${Math.floor(ts / WINDOW) * WINDOW}`;
        const c = counts.get(k) || { success: 0, total: 0 };
        c.total++;
        c.success += success(sid, ev, members.get(member));
        counts.set(k, c);
      }
      for (let i = 0; i < events.length; i += 500) {
        const p = await post(s.collector + '/api/collect?topic=web.raw',
          JSON.stringify(events.slice(i, i + 500)));
        assert.equal(p.status, 200, p.text);
      }
    }
    function mismatches() {
      const out = [];
      for (const sid of [5, 8]) {
        const windows = [...counts].filter(([k]) => k.startsWith(`${sid}|`))
          .map(([k, c]) => ({ start: Number(k.split('|')[1]), c }))
          .sort((a, b) => a.start - b.start);
        const newest = windows[windows.length - 1];
        const latest = redisCli(port, 'GET', `scenario:${sid}:success_ratio`);
        const want = value(newest.c, newest.start + WINDOW);
        if (latest !== want) out.push(`${sid} latest ${latest} != ${want}`);
        const hist = redisCli(port, 'ZRANGE', `scenario:${sid}:history`, '0', '-1', 'WITHSCORES');
        const wantHist = windows.flatMap((w) => [value(w.c, w.start + WINDOW),
          String(w.start / 1000)]).join('\n');
        if (hist !== wantHist) out.push(`${sid} history:\n${hist}\n!=\n${wantHist}`);
      }
      return out;
    }
    async function converged(what) {
      let last = [];
      try {
        await until(what, () => (last = mismatches()).length === 0, 30000);
      } catch (e) {
        throw new Error(`${e.message}\n${last.slice(0, 4).join('\n')}`);
      }
    }

    const n = Math.round(4000 * Math.max(SCALE, 0.5));
    await sendEvents(n, base);
    await converged('Redis to equal the ground truth');
    // the partials really are per source partition
    const fields = new Set();
    for (const k of redisCli(port, 'KEYS', 'scenario:*:window:*').split('\n'))
      for (const f of redisCli(port, 'HKEYS', k).split('\n')) fields.add(f);
    assert.deepEqual([...fields].sort(), ['web.raw:p0', 'web.raw:p1', 'web.raw:p2']);

    // Redis dies; events keep coming; Redis returns: nothing lost, nothing twice.
    await stopRedis(redis, 'SIGKILL');
    await sendEvents(Math.round(n / 2), base + 30000);
    await until('sluice_redis_up 0', async () =>
      sample(await metrics(s), 'sluice_redis_up', { output: 'redis' }) === 0);
    redis = await startRedis(port, redisDir);
    await converged('Redis to equal the ground truth after its restart');
    const m = await metrics(s);
    assert.equal(sample(m, 'sluice_stage_restarts_total', { stage: 'redis', kind: 'output' }), 0);
    assert.equal(sample(m, 'sluice_redis_up', { output: 'redis' }), 1);
  } finally {
    const r = await stopSluice(s);
    await stopRedis(redis);
    assert.equal(r.code, 0, s.stderr);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}, { timeout: 180000 * SLOW });
