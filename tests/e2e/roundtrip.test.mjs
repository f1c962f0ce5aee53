// roundtrip.test.mjs - 100,000 events POSTed by `sluice gen` come back from
// `sluice log tail --from-beginning`: the same events, each on the partition
// Kafka's murmur2 gives its key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, readTopic, partitionFor, SCALE,
} from './lib.mjs';

test('events sent by sluice gen are read back unchanged, on murmur2 partitions', async () => {
  const dir = tmpdir();
  const s = await startSluice(writeConfig(dir));
  const n = Math.round(100000 * SCALE);
  const nEvents = Math.round(20000 * SCALE);
  const truth = path.join(dir, 'truth.txt');
  try {
    let g = sluice(['gen', 'logs', '--count', String(n), '--seed', '7', '--start', '2026-01-11T09:00:00Z',
      '--concurrency', '4', '--no-progress', '--truth', truth, '--to', s.collector + '/api/collect']);
    assert.equal(g.code, 0, g.stderr);
    g = sluice(['gen', 'events', '--count', String(nEvents), '--seed', '8', '--start', '2026-01-11T09:00:00Z',
      '--no-progress', '--to', s.collector + '/api/collect']);
    assert.equal(g.code, 0, g.stderr);
  } finally {
    const r = await stopSluice(s);
    assert.equal(r.code, 0, s.stderr);
  }

  // What the generator would have sent, regenerated deterministically.
  const expected = new Map();
  const gen = sluice(['gen', 'logs', '--count', String(n), '--seed', '7', '--start', '2026-01-11T09:00:00Z', '--to', '-']);
  assert.equal(gen.code, 0, gen.stderr);
  for (const line of gen.stdout.split('\n').filter(Boolean)) {
    const ev = JSON.parse(line);
    expected.set(ev.metadata.request_id, ev);
  }
  assert.equal(expected.size, n);
  assert.equal(fs.readFileSync(truth, 'utf8').split('\n').filter(Boolean).length, n);

  const records = readTopic(`${dir}/data`, 'logs.raw');
  assert.equal(records.length, n);
  const seen = new Set();
  for (const rec of records) {
    const id = rec.value.metadata.request_id;
    assert.ok(!seen.has(id), `duplicate ${id}`);
    seen.add(id);
    assert.deepEqual(rec.value, expected.get(id), `event ${id} differs`);
    assert.equal(rec.key, rec.value.service);
    assert.equal(rec.partition, partitionFor(rec.key, 3), `${rec.key} on partition ${rec.partition}`);
    assert.equal(rec.timestamp.slice(0, 19), rec.value.timestamp.slice(0, 19));
  }
  // Every service's records sit on one partition, in the order sent.
  const events = readTopic(`${dir}/data`, 'events.activity');
  assert.equal(events.length, nEvents);
  for (const rec of events) assert.equal(rec.partition, partitionFor(rec.value.user_id, 3));

  const v = sluice(['log', 'verify', '--data', `${dir}/data`]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  fs.rmSync(dir, { recursive: true, force: true });
});
