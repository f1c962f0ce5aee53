// pipeline.test.mjs - stages from the configuration: the stdout output
// prints what the collector accepted, commits as it goes so a restart does
// not print a record twice, and bad stage entries are errors with file:line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpdir, writeConfig, startSluice, stopSluice, sluice, post, until, metrics, sample } from './lib.mjs';

const ev = (i) => JSON.stringify({ timestamp: '2026-01-11T09:19:26Z', level: 'INFO', service: `s${i % 5}`, message: `m${i}` });

test('the stdout output prints each accepted record once, across a restart', async () => {
  const dir = tmpdir();
  const cfg = writeConfig(dir, 'outputs:\n  - { type: stdout, from: [logs.raw], format: meta, flush_interval: 100ms }\n');
  const lines = [];
  for (const round of [0, 1]) {
    const s = await startSluice(cfg);
    for (let i = round * 50; i < round * 50 + 50; i++)
      assert.equal((await post(s.collector + '/api/collect', ev(i))).status, 200);
    await until('records printed', () => s.stdout.split('\n').filter(Boolean).length >= 50);
    assert.equal(sample(await metrics(s), 'sluice_stage_up', { stage: 'stdout', kind: 'output' }), 1);
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    lines.push(...s.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)));
  }
  const messages = lines.map((l) => l.value.message).sort();
  assert.equal(messages.length, 100, 'no record printed twice or lost across the restart');
  assert.equal(new Set(messages).size, 100);
  for (const l of lines) assert.equal(l.topic, 'logs.raw');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('bad stage entries are reported with file and line', () => {
  const dir = tmpdir();
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'outputs:\n  - { type: stdot, from: x }\n  - { type: stdout, from: [nope] }\n  - { type: stdout, from: logs.raw, colour: red }\n');
  let r = sluice(['check', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file}:2: unknown output type 'stdot' \\(available: stdout`));
  assert.match(r.stderr, new RegExp(`${file}:3: output 'stdout': from names undeclared topic 'nope'`));
  assert.match(r.stderr, new RegExp(`${file}:4: unknown key 'colour' in outputs 'stdout-2'`));
  fs.writeFileSync(file, 'outputs:\n  - { from: logs.raw }\n');
  r = sluice(['check', '-c', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${file}:2: an entry of outputs needs a type`));
  fs.rmSync(dir, { recursive: true, force: true });
});
