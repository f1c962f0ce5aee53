// pixel.test.mjs - the tracking pixel against the real binary: a GET is
// answered with a 1x1 GIF once its event is in web.raw (decoded parameters,
// ip, user_agent, referer, ts; keyed by memberId); sluice gen web's traffic
// arrives exactly as its ground truth says; broken %-escapes, invalid \u
// escapes and non-numeric ids get 400 with a reason, land in _dlq and are
// counted; / and /favicon.ico are 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, metrics, sample, readTopic, sluice,
  partitionFor, SCALE,
} from './lib.mjs';

let dir, s;

const TOPICS = `topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  web.raw: { partitions: 3, key: memberId }
`;

before(async () => {
  dir = tmpdir('sluice-pixel-');
  s = await startSluice(writeConfig(dir, TOPICS));
});

after(async () => {
  const r = await stopSluice(s);
  assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

const webRaw = () => readTopic(`${dir}/data`, 'web.raw');
const dlq = () => readTopic(`${dir}/data`, '_dlq');

test('a pixel GET is answered with a transparent GIF after its event is in web.raw', async () => {
  // Seed 001's example, as the README writes it: literal \u escapes.
  const q = 'e_c=buttonClick&e_a=Clicked&e_n=\\uace0\\uba74\\ud560\\ub2f9\\ud558\\uae30' +
    '&url=http://shop/product_detail/name&urlref=http://shop/&_idn=0&cookie=1&res=1920x1080' +
    '&memberId=123456';
  const res = await fetch(`${s.collector}/5?${q}`, {
    headers: { 'User-Agent': 'Mozilla/5.0 (test)', Referer: 'http://shop/product_detail/name' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/gif');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const gif = Buffer.from(await res.arrayBuffer());
  assert.equal(gif.length, 43);
  assert.equal(gif.subarray(0, 6).toString(), 'GIF89a');
  assert.equal(gif.readUInt16LE(6), 1);
  assert.equal(gif.readUInt16LE(8), 1);

  // Durable before the answer: it is already there.
  const recs = webRaw().filter((r) => r.value.memberId === '123456');
  assert.equal(recs.length, 1);
  const { value, key, partition } = recs[0];
  assert.equal(key, '123456');
  assert.equal(partition, partitionFor('123456', 3));
  const { ts, ...rest } = value;
  assert.deepEqual(rest, {
    scenario_id: 5, e_c: 'buttonClick', e_a: 'Clicked', e_n: '고면할당하기',
    url: 'http://shop/product_detail/name', urlref: 'http://shop/', _idn: '0', cookie: '1',
    res: '1920x1080', memberId: '123456', ip: '127.0.0.1', user_agent: 'Mozilla/5.0 (test)',
    referer: 'http://shop/product_detail/name',
  });
  assert.ok(Math.abs(Date.parse(ts) - Date.now()) < 60000, ts);
  assert.match(ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
});

test('percent-encoded UTF-8, + for space, repeated keys and empty values', async () => {
  const res = await fetch(`${s.collector}/77?e_n=%EA%B5%AC%EB%A7%A4+now&k=1&k=2&empty=&bare&u=%5Cuac00`);
  assert.equal(res.status, 200);
  const ev = webRaw().find((r) => r.value.scenario_id === 77).value;
  assert.equal(ev.e_n, '구매 now');
  assert.equal(ev.k, '2');
  assert.equal(ev.empty, '');
  assert.equal(ev.bare, '');
  assert.equal(ev.u, '가');
});

test('sluice gen web through the pixel: every event once, as the ground truth says', async () => {
  const n = Math.max(500, Math.round(4000 * SCALE));
  const truth = path.join(dir, 'truth.jsonl');
  const csv = path.join(dir, 'members.csv');
  const before = webRaw().length;
  const r = sluice(['gen', 'web', '--count', String(n), '--seed', '9', '--scenarios', '5,6,7',
    '--members', '100', '--members-csv', csv, '--concurrency', '16', '--to', s.collector,
    '--truth', truth, '--no-progress']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`${n} events acknowledged`));
  const want = new Map(fs.readFileSync(truth, 'utf8').trim().split('\n').map((l) => {
    const t = JSON.parse(l);
    return [t.uid, t];
  }));
  assert.equal(want.size, n);
  const got = webRaw().slice(before);
  assert.equal(got.length, n);
  const seen = new Set();
  for (const { value, key, partition } of got) {
    const t = want.get(value.uid);
    assert.ok(t, `unknown uid ${value.uid}`);
    assert.ok(!seen.has(value.uid), `uid ${value.uid} twice`);
    seen.add(value.uid);
    const { scenario_id, ip, user_agent, referer, ts, ...params } = value;
    assert.equal(scenario_id, t.scenario_id);
    assert.deepEqual(params, t.params);
    assert.equal(referer, t.params.url);
    assert.match(user_agent, /^Mozilla\/5\.0/);
    assert.equal(key, t.memberId);
    if (t.memberId) assert.equal(partition, partitionFor(t.memberId, 3));
  }
  // The members file is what `sluice members import` takes.
  const rows = fs.readFileSync(csv, 'utf8').trim().split('\n');
  assert.equal(rows[0], 'member_id,age,gender');
  assert.equal(rows.length, 101);
});

test('undecodable requests get 400 with a reason, go to _dlq and are counted', async () => {
  const m0 = await metrics(s);
  const dlq0 = dlq().length;
  const cases = [
    ['/5?e_c=a&e_n=%G1', 'bad_query', /parameter 'e_n' at byte 10: broken %-escape '%G1'/, 10],
    ['/5?e_n=\\ud83d', 'bad_query', /lone high surrogate/, 4],
    ['/5?e_n=\\uZZZZ', 'bad_query', /\\u/, 4],
    ['/5?e_n=%FF', 'bad_query', /UTF-8/, 4],
    ['/abc?e_c=a', 'bad_scenario_id', /scenario id must be decimal digits/, 1],
  ];
  for (const [target, reason, message, offset] of cases) {
    const res = await fetch(s.collector + target);
    assert.equal(res.status, 400, target);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const body = await res.json();
    assert.equal(body.reason, reason, target);
    assert.match(body.error, message, target);
    assert.equal(body.offset, offset, target);
  }
  const kept = dlq().slice(dlq0).map((r) => r.value);
  assert.equal(kept.length, cases.length);
  for (let i = 0; i < cases.length; i++) {
    assert.equal(kept[i].source, 'pixel');
    assert.equal(kept[i].reason, cases[i][1]);
    assert.equal(kept[i].topic, 'web.raw');
    assert.equal(kept[i].original, cases[i][0]);
  }
  const m1 = await metrics(s);
  const delta = (name, labels) => sample(m1, name, labels) - sample(m0, name, labels);
  assert.equal(delta('sluice_collector_pixel_requests_total', { result: 'bad_query' }), 4);
  assert.equal(delta('sluice_collector_pixel_requests_total', { result: 'bad_scenario_id' }), 1);
  assert.equal(delta('sluice_collector_requests_rejected_total', { reason: 'bad_query' }), 4);
  assert.equal(delta('sluice_collector_requests_total', { code: '400' }), 5);
});

test('/ and /favicon.ico are 404, other methods 405, and nothing is kept for them', async () => {
  const before = webRaw().length;
  for (const p of ['/', '/favicon.ico', '/5/extra']) {
    const res = await fetch(s.collector + p);
    assert.equal(res.status, 404, p);
    await res.text();
  }
  const res = await fetch(s.collector + '/5?a=1', { method: 'POST', body: 'x' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET');
  assert.equal(webRaw().length, before);
  const m = await metrics(s);
  assert.ok(sample(m, 'sluice_collector_pixel_requests_total', { result: 'ok' }) >= 3);
});
