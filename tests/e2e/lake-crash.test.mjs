// lake-crash.test.mjs - exactly once into the lake: kill -9 the pipeline at
// 20 random moments while the generator sends and the lake output writes,
// and kill -9 `sluice lake compact` midway now and then, next to it. After
// the last restart, one compaction that runs to its end and a clean stop,
// every acknowledged event is in the lake exactly once (DuckDB count(*) =
// count(DISTINCT request_id) = acknowledged, and the ids are the
// generator's), every row sits in the hour of its event time, and no
// temporary file is left or visible to read_parquet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, freePort, background, rng, until, SCALE,
} from './lib.mjs';

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

function lakeRows(data) {
  const r = sluice(['lake', 'ls', '--data', data, '--topic', 'logs.raw', '--json']);
  if (r.code !== 0) return -1;
  return r.stdout.trim().split('\n').filter(Boolean).reduce((a, l) => a + JSON.parse(l).rows, 0);
}

test('kill -9 at 20 random moments while the lake writes: every acknowledged event once', async () => {
  const seed = Number(process.env.SL_TEST_SEED || Date.now() % 100000);
  const rand = rng(seed);
  const dir = tmpdir('sluice-lake-crash-');
  const data = `${dir}/data`;
  const lake = `${data}/lake`;
  const [cport, aport] = [await freePort(), await freePort()];
  const cfg = writeConfig(dir, `outputs:
  - { type: lake, from: [logs.raw], flush_interval: 200ms, max_rows: ${Math.round(4000 * SCALE)} }
`);
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8')
    .replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${cport}`)
    .replace('listen: 127.0.0.1:0', `listen: 127.0.0.1:${aport}`));
  const rate = Math.round(15000 * SCALE);
  const count = rate * 12;
  const truth = path.join(dir, 'truth.txt');

  let s = await startSluice(cfg);
  // Event times from 09:59:56 on: the lake rolls into hour 10 while it is being killed.
  const gen = background(['gen', 'logs', '--count', String(count), '--rate', String(rate), '--seed', '5',
    '--start', '2026-01-11T09:59:56Z', '--ts-format', 'mixed', '--concurrency', '2', '--no-progress',
    '--truth', truth, '--timeout', '5s', '--to', `http://127.0.0.1:${cport}/api/collect`]);
  let compactions = 0, compactKills = 0;
  try {
    for (let kill = 0; kill < 20; kill++) {
      let compact = null;
      if (kill % 3 === 1) { // a compaction next to the writer, killed midway half of the time
        compact = background(['lake', 'compact', '--data', data, '--older-than', '0s']);
        compactions++;
      }
      await new Promise((r) => setTimeout(r, 100 + rand() * 300));
      if (compact) {
        if (rand() < 0.5) {
          compact.proc.kill('SIGKILL');
          compactKills++;
        }
        const c = await compact.done;
        assert.ok(c.signal === 'SIGKILL' || c.code === 0, `compact failed: ${compact.stdout}${compact.stderr}`);
      }
      s.proc.kill('SIGKILL');
      await s.exit;
      s = await startSluice(cfg);
    }
    const g = await gen.done;
    assert.equal(g.code, 0, `gen failed (seed ${seed}): ${gen.stderr}`);
    // One compaction to its end, next to the running pipeline: it also repairs
    // whatever a killed one left.
    const c = sluice(['lake', 'compact', '--data', data, '--older-than', '0s']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    await until('the lake to hold every acknowledged event', () => lakeRows(data) >= count, 60000);
  } finally {
    gen.proc.kill('SIGKILL');
    const r = await stopSluice(s);
    assert.equal(r.code, 0, s.stderr);
  }

  const acked = fs.readFileSync(truth, 'utf8').split('\n').filter(Boolean);
  assert.equal(new Set(acked).size, count, 'the generator acknowledged every event once');
  const duck = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await duck.connect();
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  await con.run(`SET TimeZone = 'UTC'`);
  const src = `read_parquet('${lake}/**/*.parquet', hive_partitioning=true, filename=true)`;
  const [agg] = await q(`SELECT count(*) AS n, count(DISTINCT "metadata.request_id") AS ids,
    count(*) FILTER (WHERE hour <> hour(ts) OR day <> day(ts)) AS misplaced FROM ${src}`);
  assert.equal(agg.n, String(count), `rows (seed ${seed})`);
  assert.equal(agg.ids, String(count), `distinct ids (seed ${seed})`);
  assert.equal(agg.misplaced, '0');
  const ids = new Set((await q(`SELECT "metadata.request_id" AS id FROM ${src}`)).map((r) => r.id));
  const missing = acked.filter((id) => !ids.has(id));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged events missing (seed ${seed})`);
  const files = await q(`SELECT DISTINCT filename FROM ${src}`);
  assert.ok(files.every((f) => !path.basename(f.filename).startsWith('.')), 'a temporary file was read');
  const leftovers = walk(lake).filter((f) => path.basename(f).startsWith('.') && !f.endsWith('.sluice-lake.lock'));
  assert.deepEqual(leftovers, [], 'temporary files left after a clean stop');
  const hours = (await q(`SELECT DISTINCT hour FROM ${src} ORDER BY 1`)).map((r) => Number(r.hour));
  assert.deepEqual(hours, [9, 10]);
  con.closeSync?.();
  console.log(`# lake crash test: seed ${seed}, ${count} events, 20 kills, ${compactions} compactions ` +
    `(${compactKills} killed), ${files.length} files`);
  fs.rmSync(dir, { recursive: true, force: true });
});
