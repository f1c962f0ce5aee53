// kafka.test.mjs - sluice on the Kafka backend against librdkafka's mock
// cluster (hosted by build/tools/kafka_mock on loopback ports), checked by an
// independent Kafka client, kcat: every acknowledged event is on Kafka, with
// its key on the partition murmur2 gives; broker errors make the collector
// answer 503 while it cannot deliver, and nothing it acknowledged is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN, SCALE, tmpdir, startSluice, stopSluice, sluice, post, metrics, sample, until, partitionFor,
} from './lib.mjs';

const TOOLS = process.env.SLUICE_TOOLS || path.join(path.dirname(BIN), 'tools');
const MOCK = path.join(TOOLS, 'kafka_mock');
const KCAT = spawnSync('kcat', ['-V']).status === 0;
const TOPICS = ['logs.raw:3', 'events.activity:3', 'alerts.realtime:1', '_dlq:1'];

// Start the mock cluster; resolves with its bootstrap list and a command
// function for the fault-injection line protocol (see kafka_mock.c).
async function startMock(topics = TOPICS) {
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

function writeKafkaConfig(dir, bootstrap, kafkaExtra = {}) {
  const file = path.join(dir, 'sluice.yaml');
  const kafka = { 'bootstrap.servers': bootstrap, 'sluice.timeout.ms': 5000, ...kafkaExtra };
  fs.writeFileSync(file, `data_dir: ${dir}/data
log_level: info
log: { backend: kafka }
kafka:
${Object.entries(kafka).map(([k, v]) => `  ${k}: "${v}"`).join('\n')}
topics:
  logs.raw:
    partitions: 3
    key: service
    require: { level: string, service: string, message: string }
  events.activity:
    partitions: 3
    key: user_id
    require: { event_id: string, user_id: string, event_type: string }
  alerts.realtime: { partitions: 1, retention: 1d }
collector:
  listen: 127.0.0.1:0
  routes:
    - { when: 'has(level)', topic: logs.raw }
    - { when: 'has(event_type)', topic: events.activity }
admin:
  listen: 127.0.0.1:0
`);
  return file;
}

// Every record of a topic through kcat: [{ partition, key, value }].
function kcatRead(bootstrap, topic) {
  const r = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q',
    '-f', '%p\t%k\t%s\n'], { encoding: 'utf8', maxBuffer: 1 << 30, timeout: 60000 });
  assert.equal(r.status, 0, `kcat: ${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean).map((line) => {
    const [p, key, ...rest] = line.split('\t');
    return { partition: Number(p), key, value: JSON.parse(rest.join('\t')) };
  });
}

const event = (i, over = {}) => ({
  timestamp: '2026-01-11T09:19:26.291Z', level: 'INFO', service: `svc-${i % 11}`,
  host: 'worker-1', message: `m-${i}`, ...over,
});

test('sluice on Kafka: kcat reads every event, keys on their murmur2 partitions', { skip: !KCAT && 'kcat is not installed (scripts/deps.sh)' }, async () => {
  const dir = tmpdir();
  const mock = await startMock();
  let s;
  try {
    s = await startSluice(writeKafkaConfig(dir, mock.bootstrap));
    const n = Math.round(5000 * SCALE);
    const g = sluice(['gen', 'logs', '--count', String(n), '--seed', '1', '--no-progress',
      '--to', s.collector + '/api/collect']);
    assert.equal(g.code, 0, g.stderr);
    // A bad event goes to _dlq on Kafka too.
    const bad = await post(s.collector + '/api/collect', JSON.stringify([{ level: 5, service: 'x', message: 'm' }]));
    assert.equal(bad.status, 200, bad.text);
    assert.equal(bad.json.rejected, 1);

    const records = kcatRead(mock.bootstrap, 'logs.raw');
    assert.equal(records.length, n);
    const ids = new Set();
    for (const rec of records) {
      assert.equal(rec.key, rec.value.service);
      assert.equal(rec.partition, partitionFor(rec.key, 3), `${rec.key} on partition ${rec.partition}`);
      ids.add(rec.value.metadata.request_id);
    }
    assert.equal(ids.size, n, 'no duplicates');
    const dlq = kcatRead(mock.bootstrap, '_dlq');
    assert.equal(dlq.length, 1);

    // The admin API and /metrics speak about the Kafka topics.
    const topics = await (await fetch(s.admin + '/api/topics')).json();
    const raw = topics.topics.find((t) => t.name === 'logs.raw');
    assert.equal(raw.partitions.length, 3);
    assert.equal(raw.partitions.reduce((a, p) => a + p.end, 0), n);
    const text = await metrics(s);
    assert.equal(sample(text, 'sluice_log_appended_records_total', { topic: 'logs.raw' }), n);
    assert.ok(text.includes('sluice_kafka_producer_queue_messages'));
  } finally {
    if (s) {
      const r = await stopSluice(s);
      assert.equal(r.code, 0, s.stderr);
    }
    await mock.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sluice on Kafka refuses a topic with other partitions, unless told to accept it', async () => {
  const dir = tmpdir();
  const mock = await startMock(['logs.raw:1', 'events.activity:3', 'alerts.realtime:1', '_dlq:1']);
  try {
    const r = sluice(['run', '-c', writeKafkaConfig(dir, mock.bootstrap)], { timeout: 30000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /topic logs\.raw has 1 partition on the cluster, the config declares 3/);
    const s = await startSluice(writeKafkaConfig(dir, mock.bootstrap,
      { 'sluice.accept.partition.mismatch': 'true' }));
    const ok = await post(s.collector + '/api/collect', JSON.stringify(event(1)));
    assert.equal(ok.status, 200, ok.text);
    const st = await stopSluice(s);
    assert.equal(st.code, 0, s.stderr);
  } finally {
    await mock.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('broker errors: the collector answers 503 while it cannot deliver, and loses nothing it acknowledged', { skip: !KCAT && 'kcat is not installed (scripts/deps.sh)' }, async () => {
  const dir = tmpdir();
  const mock = await startMock();
  let s;
  // Deliveries give up after 1.5 s of broker errors: then the request fails.
  s = await startSluice(writeKafkaConfig(dir, mock.bootstrap, { 'message.timeout.ms': 1500 }));
  const acked = new Set();
  const statuses = [];
  let next = 0;
  const send = async () => {
    const batch = Array.from({ length: 20 }, () => event(next++));
    const r = await post(s.collector + '/api/collect', JSON.stringify(batch));
    statuses.push(r.status);
    if (r.status === 200) for (const e of batch) acked.add(e.message);
    else assert.equal(r.status, 503, r.text);
    return r;
  };
  try {
    for (let i = 0; i < 10; i++) assert.equal((await send()).status, 200);

    // Every Produce request fails (retriable): nothing can be delivered.
    await mock.command('produce_errors 1000000 NOT_ENOUGH_REPLICAS');
    const r = await until('a 503 while Kafka refuses', async () => {
      const res = await send();
      return res.status === 503 && res;
    }, 20000);
    assert.match(r.headers.get('retry-after') || '', /^\d+$/);
    await mock.command('clear_errors');
    await until('200 again once Kafka takes records', async () => (await send()).status === 200, 30000);

    // A permanent error on some requests: those batches are refused at once.
    await mock.command('produce_errors 2 INVALID_RECORD');
    for (let i = 0; i < 5; i++) await send();
    await until('200 after the permanent errors', async () => (await send()).status === 200, 30000);

    // All brokers down, then back.
    await mock.command('broker_down -1');
    await until('a 503 with every broker down', async () => (await send()).status === 503, 20000);
    await mock.command('broker_up -1');
    await until('200 with the brokers back', async () => (await send()).status === 200, 30000);
    for (let i = 0; i < 5; i++) await send();

    assert.ok(statuses.includes(503), statuses.join(' '));
    const text = await metrics(s);
    assert.ok(sample(text, 'sluice_kafka_delivery_errors_total', { topic: 'logs.raw' }) > 0);
  } finally {
    const st = await stopSluice(s);
    assert.equal(st.code, 0, s.stderr);
  }
  try {
    const onKafka = new Set(kcatRead(mock.bootstrap, 'logs.raw').map((rec) => rec.value.message));
    const lost = [...acked].filter((m) => !onKafka.has(m));
    assert.deepEqual(lost, [], `${lost.length} acknowledged events are not on Kafka`);
    assert.ok(acked.size >= 200);
  } finally {
    await mock.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
