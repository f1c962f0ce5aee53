// scenario.test.mjs - seed 001's scenarios end to end with the real binary:
// members and scenario 5 loaded through the CLI and the admin API,
// tracking events sent to web.raw through the collector, and then
//   - scenario.results holds exactly one result per event with the success
//     flag computed independently here, in the seed's shape;
//   - /api/stats/scenarios and the scenario.stats partials equal the counts
//     per 5-second window computed here;
//   - a scenario edited over the API changes the following results, no
//     restart; invalid scenarios get 400 naming the bad part; unknown
//     scenario ids land in _dlq;
//   - kill -9 before anything was committed, restart: still exactly once.
// The traffic comes from a generator in this file with a fixed seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, post, metrics, sample, readTopic, until,
  rng, SCALE,
} from './lib.mjs';

const TOPICS = `topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  web.raw: { partitions: 3, key: memberId, timestamp: ts }
  scenario.results: { partitions: 3, key: scenario_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
`;

const config = (dir, proc = 'flush_interval: 200ms, idle: 1s, lateness: 1s') =>
  writeConfig(dir, `${TOPICS}processors:\n  - { type: scenario, ${proc} }\n`);

// Seed 001's scenario 5, with seq kept so that results can be matched to events.
const SCENARIO_5 = {
  scenario_id: 5,
  title: '9시 이후 구매 버튼을 클릭한 성인 남성 사용자 필터링',
  manager: 'admin_user',
  log_format: { e_c: 0, e_a: 0, memberId: 1, h: 1, res: 0, seq: 1 },
  filters: [
    { left: 'age', operator: '>', right: '20' },
    { left: 'gender', operator: '==', right: 'MALE' },
    { left: 'h', operator: '>=', right: '9' },
  ],
  logical_operator: 'AND',
};

const WINDOW = 5000;

// Members 100000..100299; every 17th has no age, every 13th no gender.
function makeMembers(random) {
  const members = new Map();
  for (let i = 0; i < 300; i++) {
    const id = String(100000 + i);
    members.set(id, {
      age: i % 17 === 0 ? null : 15 + Math.floor(random() * 45),
      gender: i % 13 === 0 ? null : random() < 0.5 ? 'MALE' : 'FEMALE',
      tier: ['gold', 'silver', 'bronze'][i % 3],
    });
  }
  return members;
}

function membersCsv(members) {
  const rows = ['member_id,age,gender,tier'];
  for (const [id, m] of members) rows.push(`${id},${m.age ?? ''},${m.gender ?? ''},${m.tier}`);
  return rows.join('\n') + '\n';
}

// Tracking events as the pixel makes them, plus seq; ids as numbers or strings.
function makeEvents(random, n, { base, firstSeq = 0, unknownEvery = 0 }) {
  const events = [];
  for (let i = 0; i < n; i++) {
    const seq = firstSeq + i;
    const member = 100000 + Math.floor(random() * 320); // 20 ids without a member row
    let ts = base + Math.floor((i * 20000) / n); // 20 s of traffic
    if (random() < 0.05) ts -= Math.floor(random() * 800); // a little out of order
    const sid = unknownEvery && i % unknownEvery === unknownEvery - 1 ? 99 : 5;
    events.push({
      scenario_id: random() < 0.5 ? sid : String(sid),
      e_c: 'buttonClick', e_a: 'Clicked', e_n: '구매',
      url: `http://shop.example.com/product_detail/p${i % 50}`, urlref: 'http://shop.example.com/',
      _idn: i % 2, cookie: 1, res: '1920x1080',
      memberId: random() < 0.5 ? member : String(member),
      h: Math.floor(random() * 24), seq, ts,
    });
  }
  return events;
}

const num = (v) => (typeof v === 'string' && v.trim() !== '' && !isNaN(Number(v)) ? Number(v) : v);
// The seed's filters, computed here without sluice: age > 20 AND gender == MALE AND h >= 9.
function expectedSuccess(ev, members, filters = 'seed') {
  const m = members.get(String(ev.memberId)) || {};
  const age = m.age ?? undefined, gender = m.gender ?? undefined;
  const h = num(ev.h);
  if (filters === 'seed') return age !== undefined && age > 20 && gender === 'MALE' && h >= 9 ? 1 : 0;
  // the edited scenario: women of any age, before 9
  return gender === 'FEMALE' && h < 9 ? 1 : 0;
}

async function postEvents(s, events) {
  for (let i = 0; i < events.length; i += 500) {
    const r = await post(s.collector + '/api/collect?topic=web.raw', JSON.stringify(events.slice(i, i + 500)));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, Math.min(500, events.length - i), r.text);
  }
}

async function getJson(url, opts) {
  const res = await fetch(url, opts);
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.status, json, text };
}

function windowCounts(events, members, filters) {
  const w = new Map();
  for (const ev of events) {
    const start = Math.floor(ev.ts / WINDOW) * WINDOW;
    const c = w.get(start) || { success: 0, total: 0 };
    c.total++;
    c.success += expectedSuccess(ev, members, filters);
    w.set(start, c);
  }
  return w;
}

const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

test('scenario 5: exact results and 5-second counts, live edits, bad input', async () => {
  const dir = tmpdir();
  const s = await startSluice(config(dir));
  const random = rng(1001);
  try {
    const admin = ['--admin', s.admin];
    // Members through the CLI (CSV), scenario 5 through the CLI.
    const members = makeMembers(random);
    fs.writeFileSync(path.join(dir, 'members.csv'), membersCsv(members));
    let r = sluice(['members', 'import', path.join(dir, 'members.csv'), ...admin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /imported 300 members/);
    fs.writeFileSync(path.join(dir, 'scenario5.json'), JSON.stringify(SCENARIO_5, null, 2));
    r = sluice(['scenario', 'add', path.join(dir, 'scenario5.json'), ...admin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /scenario 5 created \(version 1\)/);
    r = sluice(['scenario', 'add', path.join(dir, 'scenario5.json'), ...admin]);
    assert.equal(r.code, 1, 'adding an existing id is refused');
    assert.match(r.stderr, /HTTP 409: scenario 5 exists/);
    r = sluice(['scenario', 'list', ...admin]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^5 +1 +.*age > 20 && gender == 'MALE' && h >= 9$/m);

    let g = await getJson(`${s.admin}/api/scenarios/5`);
    assert.equal(g.status, 200);
    assert.equal(g.json.title, SCENARIO_5.title);
    assert.deepEqual(g.json.filters, SCENARIO_5.filters);
    assert.equal(g.json.version, 1);
    assert.equal(g.json.expression, "age > 20 && gender == 'MALE' && h >= 9");
    g = await getJson(`${s.admin}/api/members/100001`);
    assert.equal(g.status, 200);
    assert.equal(g.json.tier, 'silver');

    // Invalid scenarios: 400 naming the bad part; nothing stored.
    const bad = structuredClone(SCENARIO_5);
    bad.scenario_id = 6;
    bad.filters[1].operator = '=~';
    let p = await post(`${s.admin}/api/scenarios`, JSON.stringify(bad));
    assert.equal(p.status, 400);
    assert.equal(p.json.field, 'filters[1].operator');
    assert.match(p.json.error, /unknown operator '=~'/);
    p = await post(`${s.admin}/api/scenarios`, '{"scenario_id": 6, "filters": [');
    assert.equal(p.status, 400);
    assert.equal(p.json.field, null);
    assert.match(p.json.error, /invalid JSON at offset/);
    p = await post(`${s.admin}/api/scenarios`, JSON.stringify({ ...SCENARIO_5, scenario_id: 6, logical_operator: 'XOR' }));
    assert.equal(p.status, 400);
    assert.equal(p.json.field, 'logical_operator');
    p = await post(`${s.admin}/api/scenarios`, JSON.stringify({ ...SCENARIO_5, scenario_id: 6, log_format: { date: 1 } }));
    assert.equal(p.status, 400);
    assert.equal(p.json.field, 'log_format.date');
    assert.equal((await getJson(`${s.admin}/api/scenarios/6`)).status, 404);
    r = sluice(['scenario', 'add', '-', ...admin], { input: JSON.stringify(bad) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 400: filters\[1\]\.operator: unknown operator/);

    // Round 1: 3,000 events; every 40th names scenario 99, which does not exist.
    const base = Math.floor((Date.now() - 120000) / WINDOW) * WINDOW;
    const round1 = makeEvents(random, Math.round(3000 * Math.max(SCALE, 0.5)), { base, unknownEvery: 40 });
    await postEvents(s, round1);
    const known1 = round1.filter((e) => Number(e.scenario_id) === 5);
    const unknown1 = round1.filter((e) => Number(e.scenario_id) === 99);
    const data = path.join(dir, 'data');
    let results = await until('results of round 1', () => {
      const v = readTopic(data, 'scenario.results');
      return v.length >= known1.length && v;
    }, 20000);
    checkResults(results, known1, members, 'seed');

    // The counts per window, from the API and from the partials on scenario.stats.
    const want1 = windowCounts(known1, members, 'seed');
    await until('statistics of round 1', async () => statsEqual(s, want1), 20000);
    const stats = await getJson(`${s.admin}/api/stats/scenarios?history=100`);
    const s5 = stats.json.scenarios.find((x) => x.scenario_id === 5);
    assert.equal(s5.title, SCENARIO_5.title);
    assert.deepEqual(Object.keys(s5.value), ['success_ratio', 'total_count', 'success_count', 'updated_at']);
    const last = [...want1.keys()].sort((a, b) => a - b).pop();
    assert.equal(s5.latest.window_start, iso(last));
    assert.equal(s5.value.total_count, want1.get(last).total);
    assert.equal(s5.value.success_count, want1.get(last).success);
    assert.equal(s5.value.success_ratio, Math.round((want1.get(last).success / want1.get(last).total) * 1e4) / 1e4);
    // updated_at is the window's end, as the redis output writes it.
    const seedEnd = iso(last + WINDOW).replace('T', ' ').replace(/(\.\d+)?Z$/, '');
    assert.equal(s5.value.updated_at, seedEnd);
    assert.equal(s5.latest.updated_at, seedEnd);
    assert.match(s5.latest.written_at, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    checkPartials(readTopic(data, 'scenario.stats'), want1);

    // Unknown scenario ids: in _dlq with the reason, counted.
    const dlq = readTopic(data, '_dlq').filter((x) => x.value.source === 'scenario');
    assert.equal(dlq.length, unknown1.length);
    for (const d of dlq) {
      assert.equal(d.value.reason, 'unknown_scenario');
      assert.match(d.value.error, /scenario_id 99 is not in the catalogue/);
      assert.equal(d.value.topic, 'web.raw');
      assert.equal(Number(JSON.parse(d.value.original).scenario_id), 99);
    }
    const m = await metrics(s);
    assert.equal(sample(m, 'sluice_scenario_events_rejected_total', { stage: 'scenario', reason: 'unknown_scenario' }), unknown1.length);

    // Edit the filters over the API; the following events follow the new ones.
    const reloads = sample(await metrics(s), 'sluice_scenario_reloads_total', { stage: 'scenario', what: 'scenarios' });
    const edited = {
      ...SCENARIO_5,
      filters: [{ left: 'gender', operator: '==', right: 'FEMALE' }, { left: 'h', operator: '<', right: 9 }],
    };
    delete edited.scenario_id; // PUT takes the id from the path
    const put = await fetch(`${s.admin}/api/scenarios/5`, { method: 'PUT', body: JSON.stringify(edited) });
    assert.equal(put.status, 200, await put.clone().text());
    assert.equal((await put.json()).version, 2);
    await until('the processor reloads scenario 5', async () =>
      sample(await metrics(s), 'sluice_scenario_reloads_total', { stage: 'scenario', what: 'scenarios' }) > reloads);
    const round2 = makeEvents(random, 1000, { base: base + 30000, firstSeq: 100000 });
    await postEvents(s, round2);
    results = await until('results of round 2', () => {
      const v = readTopic(data, 'scenario.results');
      return v.length >= known1.length + round2.length && v;
    }, 20000);
    checkResults(results.filter((x) => x.value.seq >= 100000), round2, members, 'edited');
    assert.equal(results.length, known1.length + round2.length, 'no result twice');
    const want2 = windowCounts(round2, members, 'edited');
    for (const [k, v] of want1) want2.set(k, v); // disjoint windows: round 2 starts 30 s later
    await until('statistics of both rounds', async () => statsEqual(s, want2), 20000);

    // Deleting the scenario: its events go to _dlq from then on.
    assert.equal((await fetch(`${s.admin}/api/scenarios/5`, { method: 'DELETE' })).status, 200);
    assert.equal((await getJson(`${s.admin}/api/scenarios/5`)).status, 404);
  } finally {
    const r = await stopSluice(s);
    assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function checkResults(results, events, members, filters) {
  const bySeq = new Map(events.map((e) => [e.seq, e]));
  const seen = new Set();
  for (const rec of results) {
    const v = rec.value;
    if (!bySeq.has(v.seq)) continue;
    assert.ok(!seen.has(v.seq), `seq ${v.seq} has two results`);
    seen.add(v.seq);
    const ev = bySeq.get(v.seq);
    assert.deepEqual(Object.keys(v), ['memberId', 'h', 'seq', 'success', 'scenario_id', 'date'],
      `the seed's shape: kept fields in log_format order, then success, scenario_id, date: ${JSON.stringify(v)}`);
    assert.deepEqual(v.memberId, ev.memberId, 'kept fields are copied as they were');
    assert.equal(v.h, ev.h);
    assert.equal(v.scenario_id, 5);
    assert.equal(v.success, expectedSuccess(ev, members, filters), `seq ${v.seq}: ${JSON.stringify(ev)}`);
    assert.equal(v.date, new Date(ev.ts).toISOString());
    assert.equal(rec.key, '5');
  }
  assert.equal(seen.size, events.length, 'one result per event');
}

async function statsEqual(s, want) {
  const r = await getJson(`${s.admin}/api/stats/scenarios/5?history=1000`);
  if (r.status !== 200) return false;
  const got = new Map(r.json.history.map((w) => [Date.parse(w.window_start), w]));
  if (got.size !== want.size) return false;
  for (const [start, c] of want) {
    const w = got.get(start);
    if (!w || w.total_count !== c.total || w.success_count !== c.success) return false;
    if (w.window_end !== iso(start + WINDOW)) return false;
    if (w.success_ratio !== Math.round((c.success / c.total) * 1e4) / 1e4) return false;
  }
  return true;
}

// The contract for readers of scenario.stats: the last partial per
// (scenario, window, source topic, partition) replaces earlier ones; sum them.
function checkPartials(records, want) {
  const latest = new Map();
  for (const r of records) {
    const v = r.value;
    assert.equal(r.key, String(v.scenario_id));
    assert.equal(r.timestamp.replace('.000000Z', 'Z'), v.window_start);
    const k = `${v.scenario_id}|${v.window_start}|${v.source_topic}|${v.partition}`;
    const prev = latest.get(k);
    if (prev) assert.ok(v.last_offset >= prev.last_offset && v.total_count >= prev.total_count);
    latest.set(k, v);
  }
  const sums = new Map();
  for (const v of latest.values()) {
    const start = Date.parse(v.window_start);
    assert.equal(Date.parse(v.window_end) - start, WINDOW);
    const c = sums.get(start) || { success: 0, total: 0 };
    c.success += v.success_count;
    c.total += v.total_count;
    sums.set(start, c);
  }
  assert.deepEqual([...sums.entries()].sort(), [...want.entries()].sort());
}

test('kill -9 before the first commit: after a restart every result is there exactly once', async () => {
  const dir = tmpdir();
  // A long flush interval: nothing is committed before the kill, while
  // whole results ranges (4,096 source offsets) are already appended.
  let s = await startSluice(config(dir, 'flush_interval: 30s, idle: 1s, lateness: 1s'));
  const random = rng(2002);
  const members = makeMembers(random);
  const data = path.join(dir, 'data');
  let events;
  try {
    let p = await post(`${s.admin}/api/members`, JSON.stringify(
      [...members].map(([id, m]) => ({ member_id: id, age: m.age, gender: m.gender }))));
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.imported, 300);
    p = await post(`${s.admin}/api/scenarios`, JSON.stringify(SCENARIO_5));
    assert.equal(p.status, 201, p.text);
    const base = Math.floor((Date.now() - 120000) / WINDOW) * WINDOW;
    events = makeEvents(random, Math.round(30000 * Math.max(SCALE, 0.5)), { base });
    await postEvents(s, events);
    await until('some results appended', () => readTopic(data, 'scenario.results').length > 0, 20000);
  } finally {
    await stopSluice(s, 'SIGKILL');
  }
  const before = readTopic(data, 'scenario.results').length;
  assert.ok(before > 0 && before < events.length, `${before} of ${events.length} before the kill`);
  s = await startSluice(config(dir));
  try {
    const results = await until('all results', () => {
      const v = readTopic(data, 'scenario.results');
      return v.length >= events.length && v;
    }, 30000);
    await until('statistics', async () => statsEqual(s, windowCounts(events, members, 'seed')), 30000);
    // Let a few more flushes pass: nothing may be appended twice later either.
    await new Promise((res) => setTimeout(res, 800));
    checkResults(readTopic(data, 'scenario.results'), events, members, 'seed');
    assert.equal(readTopic(data, 'scenario.results').length, events.length);
    assert.equal(results.length, events.length);
  } finally {
    const r = await stopSluice(s);
    assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

// Crash points inside the processor's flush (SLUICE_TEST_CRASH makes it
// _exit there, as abruptly as kill -9): after a results cut was recorded
// and appended, after partials reached scenario.stats, after they reached
// the catalogue but before the offsets were committed. A restart repairs
// each: every result once, every window exact.
for (const point of ['after_cut', 'after_stats', 'after_catalogue']) {
  test(`crash ${point.replace('_', ' ')}: the restart repairs it exactly`, async () => {
    const dir = tmpdir();
    const cfg = config(dir, 'flush_interval: 300ms, idle: 1s, lateness: 1s');
    let s = await startSluice(cfg, { env: { SLUICE_TEST_CRASH: point } });
    const random = rng(3003 + point.length);
    const members = makeMembers(random);
    const data = path.join(dir, 'data');
    const base = Math.floor((Date.now() - 120000) / WINDOW) * WINDOW;
    const events = makeEvents(random, 3000, { base });
    try {
      let p = await post(`${s.admin}/api/members`, membersCsv(members), { 'Content-Type': 'text/csv' });
      assert.equal(p.status, 200, p.text);
      p = await post(`${s.admin}/api/scenarios`, JSON.stringify(SCENARIO_5));
      assert.equal(p.status, 201, p.text);
      // One request: the events are in the log even if the crash beats the answer.
      await post(s.collector + '/api/collect?topic=web.raw', JSON.stringify(events)).catch(() => null);
      const exit = await Promise.race([s.exit, new Promise((res) => setTimeout(() => res(null), 20000))]);
      assert.deepEqual(exit, { code: 99, signal: null }, `no crash at ${point}:\n${s.stderr}`);
    } finally {
      await stopSluice(s, 'SIGKILL');
    }
    assert.equal(readTopic(data, 'web.raw').length, events.length);
    s = await startSluice(cfg);
    try {
      await until('all results', () => readTopic(data, 'scenario.results').length >= events.length, 30000);
      await until('statistics', async () => statsEqual(s, windowCounts(events, members, 'seed')), 30000);
      await new Promise((res) => setTimeout(res, 700)); // more flushes: nothing twice
      const results = readTopic(data, 'scenario.results');
      checkResults(results, events, members, 'seed');
      assert.equal(results.length, events.length);
      checkPartials(readTopic(data, 'scenario.stats'), windowCounts(events, members, 'seed'));
    } finally {
      const r = await stopSluice(s);
      assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}

test('the admin API: members JSON and CSV, pages, errors; scenario CRUD statuses', async () => {
  const dir = tmpdir();
  const s = await startSluice(config(dir));
  try {
    let p = await post(`${s.admin}/api/members`, 'member_id,age,gender\n1,30,MALE\n2,x,FEMALE\n', { 'Content-Type': 'text/csv' });
    assert.equal(p.status, 400);
    assert.equal(p.json.line, 3);
    assert.match(p.json.error, /line 3: age must be an integer, not 'x'/);
    assert.equal((await getJson(`${s.admin}/api/members/1`)).status, 404, 'all or nothing');
    p = await post(`${s.admin}/api/members`, 'member_id,age,gender,city\n1,30,MALE,Seoul\n2,,FEMALE,\n3,41,MALE,Busan\n', { 'Content-Type': 'text/csv' });
    assert.equal(p.status, 200, p.text);
    assert.deepEqual(p.json, { imported: 3 });
    p = await post(`${s.admin}/api/members`, JSON.stringify([{ memberId: 4, age: 50, gender: 'MALE', vip: true }]));
    assert.equal(p.status, 200, p.text);
    let g = await getJson(`${s.admin}/api/members?limit=2`);
    assert.equal(g.status, 200);
    assert.equal(g.json.total, 4);
    assert.deepEqual(g.json.members.map((m) => m.member_id), ['1', '2']);
    assert.equal(g.json.next, '2');
    g = await getJson(`${s.admin}/api/members?limit=2&after=2`);
    assert.deepEqual(g.json.members.map((m) => m.member_id), ['3', '4']);
    assert.equal(g.json.members[1].vip, true);
    assert.equal(g.json.members[0].city, 'Busan');
    assert.equal((await getJson(`${s.admin}/api/members?limit=0`)).status, 400);
    g = await getJson(`${s.admin}/api/members/2`);
    assert.equal(g.json.age, undefined, 'an empty age is unknown');
    assert.equal(g.json.gender, 'FEMALE');

    assert.equal((await getJson(`${s.admin}/api/scenarios/abc`)).status, 400);
    assert.equal((await getJson(`${s.admin}/api/scenarios/5`)).status, 404);
    assert.equal((await fetch(`${s.admin}/api/scenarios/5`, { method: 'DELETE' })).status, 404);
    assert.equal((await fetch(`${s.admin}/api/scenarios/5`, { method: 'PUT', body: JSON.stringify(SCENARIO_5) })).status, 404);
    p = await post(`${s.admin}/api/scenarios`, JSON.stringify(SCENARIO_5));
    assert.equal(p.status, 201);
    assert.equal(p.json.version, 1);
    const res = await fetch(`${s.admin}/api/scenarios/5`, { method: 'PUT', body: JSON.stringify({ ...SCENARIO_5, scenario_id: 7 }) });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, 'scenario_id');
    g = await getJson(`${s.admin}/api/scenarios`);
    assert.equal(g.json.scenarios.length, 1);
    assert.equal((await fetch(`${s.admin}/api/scenarios`, { method: 'PATCH' })).status, 405);
    g = await getJson(`${s.admin}/api/stats/scenarios`);
    assert.equal(g.status, 200);
    assert.deepEqual(g.json.scenarios, [{ scenario_id: 5, title: SCENARIO_5.title, latest: null, value: null, history: [] }]);
    assert.equal((await getJson(`${s.admin}/api/stats/scenarios?history=0`)).status, 400);
    assert.equal((await getJson(`${s.admin}/api/stats/scenarios/8`)).status, 404);
    const r = sluice(['members', 'import', path.join(dir, 'nope.csv'), '--admin', s.admin]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot open/);
  } finally {
    const r = await stopSluice(s);
    assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
