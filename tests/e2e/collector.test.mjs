// collector.test.mjs - the HTTP collector against the real binary: good and
// bad input, statuses and messages, _dlq, metrics, timestamps, token, gzip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { spawnSync } from 'node:child_process';
import {
  tmpdir, writeConfig, startSluice, stopSluice, post, metrics, sample, readTopic, until,
} from './lib.mjs';

let dir, cfg, s;
const log = (over = {}) => ({
  timestamp: '2026-01-11T09:19:26.291Z', level: 'INFO', service: 'api-gateway',
  host: 'worker-1', message: 'Request processed successfully',
  metadata: { request_id: 'r-1', response_time_ms: 45, status_code: 200 }, ...over,
});

before(async () => {
  dir = tmpdir();
  cfg = writeConfig(dir);
  s = await startSluice(cfg);
});

after(async () => {
  const r = await stopSluice(s);
  assert.equal(r.code, 0, `sluice exit ${JSON.stringify(r)}\n${s.stderr}`);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('object, array and NDJSON bodies are accepted and routed', async () => {
  let r = await post(s.collector + '/api/collect', JSON.stringify(log()));
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { accepted: 1, rejected: 0, errors: [] });

  const evt = { event_id: 'e1', timestamp: 1768123166, user_id: 'user_1', event_type: 'CLICK' };
  r = await post(s.collector + '/api/collect', JSON.stringify([log(), evt, log()]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 3);

  const nd = [JSON.stringify(log()), '{"level": broken', JSON.stringify(evt)].join('\n') + '\n';
  r = await post(s.collector + '/api/collect', nd);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 2);
  assert.equal(r.json.rejected, 1);
  assert.equal(r.json.errors[0].index, 1);
  assert.equal(r.json.errors[0].reason, 'malformed_json');
  assert.match(r.json.errors[0].error, /line 2/);

  const topics = await (await fetch(s.admin + '/api/topics')).json();
  const ends = (name) =>
    topics.topics.find((t) => t.name === name).partitions.reduce((a, p) => a + p.end, 0);
  assert.equal(ends('logs.raw'), 4);
  assert.equal(ends('events.activity'), 2);
});

test('bad input gets the documented status and message, is counted and kept in _dlq', async () => {
  const before = await metrics(s);
  const dlqBefore = readTopic(`${dir}/data`, '_dlq').length;

  // malformed JSON: 400 with the byte offset
  let r = await post(s.collector + '/api/collect', '[{"level":"INFO",}]');
  assert.equal(r.status, 400);
  assert.match(r.json.error, /malformed JSON at byte 17/);
  assert.equal(r.json.offset, 17);

  // invalid UTF-8
  r = await post(s.collector + '/api/collect', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /UTF-8/);

  // 10,000-deep nesting: a clean 400, not a crash
  r = await post(s.collector + '/api/collect', '['.repeat(10000) + ']'.repeat(10000));
  assert.equal(r.status, 400);
  assert.match(r.json.error, /nest|deep/);

  // wrong types and missing fields: per-event rejects, the rest accepted
  r = await post(s.collector + '/api/collect', JSON.stringify([
    log({ level: 5 }), log({ service: undefined }), log({ timestamp: 'yesterday' }), log(), 42,
    { nothing: 'routes this' },
  ]));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 1);
  assert.equal(r.json.rejected, 5);
  const byIndex = Object.fromEntries(r.json.errors.map((e) => [e.index, e]));
  assert.equal(byIndex[0].reason, 'wrong_type');
  assert.match(byIndex[0].error, /field 'level' must be a string, got number/);
  assert.equal(byIndex[1].reason, 'missing_field');
  assert.match(byIndex[1].error, /'service' is missing/);
  assert.equal(byIndex[2].reason, 'bad_timestamp');
  assert.equal(byIndex[4].reason, 'not_object');
  assert.equal(byIndex[5].reason, 'no_route');

  // undeclared topic
  r = await post(s.collector + '/api/collect?topic=nope', JSON.stringify(log()));
  assert.equal(r.status, 404);
  assert.match(r.json.error, /topic 'nope' is not declared/);

  // empty body, unsupported encoding, wrong method
  r = await post(s.collector + '/api/collect', '   ');
  assert.equal(r.status, 400);
  r = await post(s.collector + '/api/collect', '{}', { 'Content-Encoding': 'br' });
  assert.equal(r.status, 415);
  assert.equal((await fetch(s.collector + '/api/collect')).status, 405);

  // 100 MB body announced: refused with 413 before it is read
  const status = await new Promise((resolve, reject) => {
    const req = http.request(s.collector + '/api/collect', {
      method: 'POST', headers: { 'Content-Length': String(100 * 1024 * 1024), 'Content-Type': 'application/json' },
    }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.write('[' + ' '.repeat(65536));
  });
  assert.equal(status, 413);

  // counted on /metrics
  const m = await metrics(s);
  const grew = (name, labels, by = 1) =>
    assert.ok(sample(m, name, labels) >= sample(before, name, labels) + by,
      `${name}${JSON.stringify(labels)} did not grow`);
  grew('sluice_collector_requests_rejected_total', { reason: 'malformed_json' });
  grew('sluice_collector_requests_rejected_total', { reason: 'invalid_utf8' });
  grew('sluice_collector_requests_rejected_total', { reason: 'too_deep' });
  grew('sluice_collector_requests_rejected_total', { reason: 'undeclared_topic' });
  grew('sluice_collector_requests_rejected_total', { reason: 'body_too_large' });
  grew('sluice_collector_events_rejected_total', { topic: 'logs.raw', reason: 'wrong_type' });
  grew('sluice_collector_events_rejected_total', { topic: 'logs.raw', reason: 'missing_field' });
  grew('sluice_collector_events_rejected_total', { topic: '', reason: 'not_object' });
  grew('sluice_collector_events_rejected_total', { topic: '', reason: 'no_route' });
  grew('sluice_collector_requests_total', { code: '400' }, 4);

  // per-event rejects and rejected bodies are in _dlq with their reason
  const dlq = readTopic(`${dir}/data`, '_dlq').slice(dlqBefore).map((r) => r.value);
  const reasons = dlq.map((v) => v.reason);
  for (const want of ['malformed_json', 'invalid_utf8', 'too_deep', 'wrong_type', 'missing_field',
    'bad_timestamp', 'not_object', 'no_route']) assert.ok(reasons.includes(want), `no ${want} in _dlq: ${reasons}`);
  const wrong = dlq.find((v) => v.reason === 'wrong_type');
  assert.equal(JSON.parse(wrong.original).level, 5);
  assert.equal(wrong.topic, 'logs.raw');
  const utf8 = dlq.find((v) => v.reason === 'invalid_utf8');
  assert.deepEqual([...Buffer.from(utf8.original_base64, 'base64')], [0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]);

  // and the server keeps serving
  assert.equal((await fetch(s.collector + '/health')).status, 200);
  r = await post(s.collector + '/api/collect', JSON.stringify(log()));
  assert.equal(r.status, 200);
});

test('one instant in every timestamp shape gives one record timestamp', async () => {
  const shapes = [
    '2026-01-11T09:19:26.291045Z', '2026-01-11T18:19:26.291045+09:00', '2026-01-11T04:19:26.291045-05:00',
    1768123166.291045, '1768123166.291045', 1768123166291.045, 1768123166291045, 1768123166291045000,
  ];
  const id = 'ts-' + Date.now();
  const r = await post(s.collector + '/api/collect?topic=logs.raw',
    JSON.stringify(shapes.map((timestamp, i) => log({ timestamp, message: `${id}-${i}` }))));
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, shapes.length, r.text);
  const recs = readTopic(`${dir}/data`, 'logs.raw').filter((x) => String(x.value.message).startsWith(id));
  assert.equal(recs.length, shapes.length);
  for (const rec of recs) assert.equal(rec.timestamp, '2026-01-11T09:19:26.291045Z', JSON.stringify(rec));
});

test('gzip bodies are inflated; a broken gzip is a 400', async () => {
  const body = zlib.gzipSync(JSON.stringify([log(), log()]));
  let r = await post(s.collector + '/api/collect', body, { 'Content-Encoding': 'gzip' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.accepted, 2);
  r = await post(s.collector + '/api/collect', Buffer.from('not gzip at all'), { 'Content-Encoding': 'gzip' });
  assert.equal(r.status, 400);
  assert.match(r.json.error, /gzip/);
});

test('/metrics passes promtool check metrics', async () => {
  const text = await metrics(s);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  assert.ok(sample(text, 'sluice_collector_events_accepted_total', { topic: 'logs.raw' }) >= 5);
});

test('a token set by SIGHUP reload is required, and a wrong one gets 401', async () => {
  fs.appendFileSync(cfg, '');
  const text = fs.readFileSync(cfg, 'utf8').replace('collector:\n', 'collector:\n  token: s3cret\n');
  fs.writeFileSync(cfg, text);
  s.proc.kill('SIGHUP');
  await until('reload', () => s.stderr.includes('reloaded'));
  let r = await post(s.collector + '/api/collect', JSON.stringify(log()));
  assert.equal(r.status, 401);
  r = await post(s.collector + '/api/collect', JSON.stringify(log()), { Authorization: 'Bearer wrong' });
  assert.equal(r.status, 401);
  assert.match(r.json.error, /token/);
  r = await post(s.collector + '/api/collect', JSON.stringify(log()), { Authorization: 'Bearer s3cret' });
  assert.equal(r.status, 200);
  assert.ok(sample(await metrics(s), 'sluice_collector_requests_rejected_total', { reason: 'unauthorized' }) >= 2);
});
