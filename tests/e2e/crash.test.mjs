// crash.test.mjs - kill -9 the server at 20 random moments during an ingest.
// After the restarts every event acknowledged with 200 is in the log exactly
// once (the generator retries only unacknowledged batches, with the same
// Idempotency-Key), and `sluice log verify` passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, readTopic, freePort, background, rng,
  until, SCALE,
} from './lib.mjs';

test('kill -9 at 20 random moments: every acknowledged event is in the log exactly once', async () => {
  const seed = Number(process.env.SL_TEST_SEED || Date.now() % 100000);
  const rand = rng(seed);
  const dir = tmpdir();
  const [cport, aport] = [await freePort(), await freePort()];
  const cfg = writeConfig(dir);
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8')
    .replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${cport}`)
    .replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${aport}`));
  const rate = Math.round(20000 * SCALE);
  const count = rate * 12;
  const truth = path.join(dir, 'truth.txt');

  let s = await startSluice(cfg);
  const gen = background(['gen', 'logs', '--count', String(count), '--rate', String(rate), '--seed', '3',
    '--concurrency', '2', '--no-progress', '--truth', truth, '--timeout', '5s',
    '--to', `http://127.0.0.1:${cport}/api/collect`]);
  let recovered = 0;
  try {
    for (let kill = 0; kill < 20; kill++) {
      await new Promise((r) => setTimeout(r, 100 + rand() * 300));
      s.proc.kill('SIGKILL');
      await s.exit;
      s = await startSluice(cfg);
      if (/recovered /.test(s.stderr)) recovered++;
    }
    const g = await gen.done;
    assert.equal(g.code, 0, `gen failed (seed ${seed}): ${gen.stderr}`);
  } finally {
    gen.proc.kill('SIGKILL');
    const r = await stopSluice(s);
    assert.equal(r.code, 0, s.stderr);
  }

  const acked = fs.readFileSync(truth, 'utf8').split('\n').filter(Boolean);
  assert.equal(new Set(acked).size, count, 'the generator acknowledged every event once');
  const counts = new Map();
  for (const rec of readTopic(`${dir}/data`, 'logs.raw')) {
    const id = rec.value.metadata.request_id;
    counts.set(id, (counts.get(id) || 0) + 1);
  }
  const missing = acked.filter((id) => !counts.has(id));
  const dups = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events lost (seed ${seed})`);
  assert.deepEqual(dups.slice(0, 5), [], `${dups.length} events stored twice (seed ${seed})`);
  assert.equal(counts.size, count);
  const v = sluice(['log', 'verify', '--data', `${dir}/data`]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  console.log(`# crash test: seed ${seed}, ${count} events, 20 kills, ${recovered} restarts recovered a torn tail`);
  fs.rmSync(dir, { recursive: true, force: true });
});
