// kafka-input.test.mjs - the `kafka` input: topics of an existing cluster
// (librdkafka's mock, fed by kcat -P) into sluice topics.
//   - on the embedded log: every valid message once, with its Kafka key on
//     the murmur2 partition, its time from the event or else from Kafka;
//     invalid ones in _dlq with their reason and source "kafka"; metrics;
//     `sluice log tail` shows it. kill -9 mid-stream and a restart: still
//     every message exactly once (ranges re-read are recognised by the log);
//   - on the Kafka backend, two workers sharing the input's group read the
//     log's own cluster and key by a field; `sluice log tail -c FILE` reads
//     the result from Kafka.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpdir, startSluice, stopSluice, sluice, metrics, sample, until, partitionFor, SCALE } from './lib.mjs';
import { HAVE_KCAT, startMock, kcatProduce, kcatRead, TOPICS_YAML } from './kafka-helpers.mjs';

const SKIP = !HAVE_KCAT && 'kcat is not installed (scripts/deps.sh)';
const SETTINGS = '{ session.timeout.ms: 6000, heartbeat.interval.ms: 250 }';

function config(dir, name, { bootstrap, input, kafka }) {
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, `data_dir: ${dir}/${name}
log_level: info
${kafka ? `log: { backend: kafka }
kafka: { bootstrap.servers: "${bootstrap}", sluice.timeout.ms: 5000, session.timeout.ms: 6000, heartbeat.interval.ms: 250 }` : 'log: { fsync: group }'}
${TOPICS_YAML}collector:
  listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0
processors: []
outputs: []
inputs:
  - ${input}
`);
  return file;
}

// The records of a sluice topic with `sluice log tail --meta`.
function tail(args, topic) {
  const r = sluice(['log', 'tail', topic, '--from-beginning', '--meta', ...args]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const activity = (i, ts) => ({ event_id: `evt-${i}`, user_id: `user_${i % 97}`, event_type: 'CLICK',
  ...(ts !== undefined ? { timestamp: ts } : {}) });

test('kafka input on the embedded log: every message once, rejects in _dlq, exactly once through kill -9', { skip: SKIP }, async (t) => {
  const dir = tmpdir('sluice-kafka-input-');
  const mock = await startMock(['orders:3']);
  let s;
  try {
    // Timestamps: ISO, epoch milliseconds, and none (the Kafka time).
    const lines = [];
    const n = Math.round(3000 * SCALE);
    for (let i = 0; i < n; i++) {
      const ts = i % 3 === 0 ? `2026-01-11T09:${String(i % 60).padStart(2, '0')}:00Z` : i % 3 === 1 ? 1768123166000 + i : undefined;
      lines.push(`k${i % 13}|${JSON.stringify(activity(i, ts))}`);
    }
    const bad = ['kb|{"event_id":"x"', 'kb|{"user_id":"u","event_type":"CLICK"}', 'kb|[{"event_id":"y"}]', 'kb|"text"'];
    const t0 = Date.now();
    kcatProduce(mock.bootstrap, 'orders', [...lines, ...bad]);
    const t1 = Date.now();

    const input = `{ type: kafka, brokers: "${mock.bootstrap}", topics: [orders], to: events.activity, settings: ${SETTINGS} }`;
    const cfg = config(dir, 'a', { bootstrap: mock.bootstrap, input });
    s = await startSluice(cfg);
    await until('the input to append every message', async () =>
      sample(await metrics(s), 'sluice_kafka_input_records_total', { input: 'kafka' }) === n, 30000);
    const text = await metrics(s);
    for (const [reason, k] of [['malformed_json', 1], ['missing_field', 1], ['not_object', 2]])
      assert.equal(sample(text, 'sluice_kafka_input_rejected_total', { input: 'kafka', reason }), k, reason);
    const r = await stopSluice(s);
    assert.equal(r.code, 0, s.stderr);

    const recs = tail(['--data', `${dir}/a`], 'events.activity');
    assert.equal(recs.length, n);
    assert.equal(new Set(recs.map((x) => x.value.event_id)).size, n, 'each message once');
    for (const x of recs) {
      const i = Number(x.value.event_id.slice(4));
      assert.equal(x.key, `k${i % 13}`, 'the Kafka key');
      assert.equal(x.partition, partitionFor(x.key, 3), 'on its murmur2 partition');
      const ms = Date.parse(x.timestamp);
      if (i % 3 === 0) assert.equal(ms, Date.parse(x.value.timestamp));
      else if (i % 3 === 1) assert.equal(ms, 1768123166000 + i);
      else assert.ok(ms >= t0 - 1000 && ms <= t1 + 1000, `the Kafka time: ${x.timestamp}`);
    }
    const dlq = tail(['--data', `${dir}/a`], '_dlq').map((x) => x.value);
    assert.deepEqual(dlq.map((d) => d.reason).sort(), ['malformed_json', 'missing_field', 'not_object', 'not_object']);
    for (const d of dlq) {
      assert.equal(d.source, 'kafka');
      assert.equal(d.topic, 'events.activity');
      assert.match(d.error, /^orders\/\d@\d+: /);
      assert.ok(bad.some((b) => b.slice(3) === d.original), d.original);
    }

    // Many more, and kill -9 while the input appends them.
    const m = Math.round(40000 * SCALE);
    kcatProduce(mock.bootstrap, 'orders', Array.from({ length: m }, (_, j) =>
      `k${j % 13}|${JSON.stringify(activity(n + j, 1768123166000 + j))}`));
    s = await startSluice(cfg);
    await until('the input to be mid-stream', async () =>
      sample(await metrics(s), 'sluice_kafka_input_records_total', { input: 'kafka' }) >= m / 8, 30000);
    s.proc.kill('SIGKILL');
    await s.exit;
    const before = tail(['--data', `${dir}/a`], 'events.activity').length - n;
    assert.ok(before < m, `killed mid-stream (${before} of ${m} appended)`);
    t.diagnostic(`killed with ${before} of ${m} appended`);
    s = await startSluice(cfg);
    await until('every message after the restart', async () =>
      tail(['--data', `${dir}/a`], 'events.activity').length >= n + m, 40000);
    const r2 = await stopSluice(s);
    assert.equal(r2.code, 0, s.stderr);
    s = null;
    const all = tail(['--data', `${dir}/a`], 'events.activity');
    assert.equal(all.length, n + m, 'nothing twice');
    assert.equal(new Set(all.map((x) => x.value.event_id)).size, n + m);
  } finally {
    if (s) await stopSluice(s);
    await mock.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('kafka input on the Kafka backend: two workers share the group, keys by field, sluice log -c reads Kafka', { skip: SKIP }, async (t) => {
  const dir = tmpdir('sluice-kafka-input2-');
  const mock = await startMock(['orders:3', 'logs.raw:3', 'events.activity:3', 'alerts.realtime:1', '_dlq:1',
    'web.raw:3', 'scenario.results:3', 'scenario.stats:3']);
  const workers = [];
  const exits = [];
  try {
    const n = Math.round(20000 * SCALE);
    kcatProduce(mock.bootstrap, 'orders', Array.from({ length: n }, (_, i) =>
      `x${i % 7}|${JSON.stringify(activity(i, 1768123166000 + i))}`));
    // No brokers: the log's own cluster.
    const input = `{ type: kafka, topics: orders, to: events.activity, key: user_id, group: orders-in, settings: ${SETTINGS} }`;
    const cfgs = [0, 1].map((i) => config(dir, `w${i}`, { bootstrap: mock.bootstrap, input, kafka: true }));
    for (const c of cfgs) workers.push(await startSluice(c));
    await until('the workers to append every message', async () => {
      let sum = 0;
      for (const w of workers) sum += sample(await metrics(w), 'sluice_kafka_input_records_total', { input: 'kafka' });
      return sum >= n;
    }, 40000);
    const shares = [];
    for (const w of workers) shares.push(sample(await metrics(w), 'sluice_kafka_input_records_total', { input: 'kafka' }));
    assert.equal(shares[0] + shares[1], n, `no message twice (${shares})`);
    t.diagnostic(`messages per worker: ${shares.join(', ')}`);

    // kcat and `sluice log tail -c` (through the Kafka backend) agree.
    const onKafka = kcatRead(mock.bootstrap, 'events.activity');
    assert.equal(onKafka.length, n);
    for (const x of onKafka) {
      assert.equal(x.key, x.value.user_id, 'key: user_id');
      assert.equal(x.partition, partitionFor(x.key, 3));
    }
    const viaSluice = tail(['-c', cfgs[0]], 'events.activity');
    assert.equal(viaSluice.length, n);
    assert.equal(new Set(viaSluice.map((x) => x.value.event_id)).size, n);
    const topics = sluice(['log', 'topics', '-c', cfgs[0]]);
    assert.equal(topics.code, 0, topics.stderr);
    assert.match(topics.stdout, new RegExp(`events\\.activity\\s+3\\s+${n}\\b`));
  } finally {
    for (const w of workers) exits.push([w, await stopSluice(w)]);
    await mock.stop();
  }
  for (const [w, r] of exits) assert.equal(r.code, 0, w.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});
