// kafka-workers.test.mjs - seed 004's pipeline (plus seed 001's scenarios)
// on the Kafka backend with three `sluice run` workers sharing the work, and
// the same input through one sluice on the embedded log: the results must
// be the same.
//
// The workers run against librdkafka's mock cluster (3-partition topics),
// each with its own data_dir and loopback ports, the lake output writing
// into one shared lake directory (each worker owns other partitions), the
// scenario processor with one PostgreSQL catalogue for all three. Input:
// `sluice gen logs/events/web --seed --start` (reproducible) into different
// collectors. Then:
//   - DuckDB over both lakes: the same rows (EXCEPT ALL both ways empty),
//     every generated event exactly once;
//   - /api/stats/scenarios: every 5-second window's counts equal the ground
//     truth computed here, on both backends - the processor's partials per
//     (scenario, window, partition) summed over the workers' partitions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpdir, startSluice, stopSluice, sluice, post, metrics, sample, until, background, SCALE } from './lib.mjs';
import {
  HAVE_KCAT, HAVE_PG, startMock, startPostgres, workerConfig, duck, lakeCount, lakeFiles,
  readMembers, scenarioTruth, scenarioStats, sameWindows, showWindows, loadCatalogue, kcatRead,
} from './kafka-helpers.mjs';

const N_LOGS = Math.round(12000 * SCALE);
const N_EVENTS = Math.round(9000 * SCALE);
const N_WEB = Math.round(12000 * SCALE);
const START = '2026-01-11T09:00:00Z';

let dir, pg, webEvents, webLines, truth, membersCsv;

before(async () => {
  dir = tmpdir('sluice-kafka-workers-');
  membersCsv = path.join(dir, 'members.csv');
  const webFile = path.join(dir, 'web.ndjson');
  const g = sluice(['gen', 'web', '--count', String(N_WEB), '--seed', '3', '--start', START, '--as', 'json',
    '--scenarios', '5,6', '--members', '300', '--members-csv', membersCsv, '--to', `file:${webFile}`,
    '--no-progress']);
  assert.equal(g.code, 0, g.stderr);
  webLines = fs.readFileSync(webFile, 'utf8').trim().split('\n');
  webEvents = webLines.map((l) => JSON.parse(l));
  truth = scenarioTruth(webEvents, readMembers(membersCsv));
  if (HAVE_PG) pg = await startPostgres(dir);
});

after(() => {
  pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Logs and events with the generator (same seeds, same bytes), web events
// from the file, each into its own collector.
async function ingest(collectors) {
  const gen = (kind, seed, n, to) => background(['gen', kind, '--count', String(n), '--seed', String(seed),
    '--start', START, '--concurrency', '2', '--no-progress', '--to', `${to}/api/collect`]);
  const logs = gen('logs', 1, N_LOGS, collectors[0]);
  const events = gen('events', 2, N_EVENTS, collectors[1 % collectors.length]);
  const web = collectors[2 % collectors.length];
  for (let i = 0; i < webLines.length; i += 500) {
    const r = await post(`${web}/api/collect?topic=web.raw`, webLines.slice(i, i + 500).join('\n'));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.rejected, 0, r.text);
  }
  for (const [name, g] of [['logs', logs], ['events', events]]) {
    const r = await g.done;
    assert.equal(r.code, 0, `gen ${name}: ${g.stderr}`);
  }
}

// Every worker's processor has compiled both scenarios and knows the members.
async function catalogueLoaded(workers) {
  await until('the processors to load the scenarios', async () => {
    for (const w of workers) {
      const text = await metrics(w);
      if (sample(text, 'sluice_scenario_scenarios', { stage: 'scenario' }) !== 2) return false;
      if (sample(text, 'sluice_scenario_members', { stage: 'scenario' }) !== 300) return false;
    }
    return true;
  }, 15000);
}

async function lakeComplete(db, lake) {
  await until('the lake to hold every event', async () =>
    (await lakeCount(db, lake, 'logs.raw')) >= N_LOGS && (await lakeCount(db, lake, 'events.activity')) >= N_EVENTS,
  60000);
}

async function statsExact(admin) {
  let last;
  try {
    await until('every scenario window to equal the ground truth', async () => {
      last = await scenarioStats(admin);
      return sameWindows(last, truth);
    }, 60000);
  } catch (e) {
    assert.fail(`${e.message}\nwant ${showWindows(truth)}\ngot  ${showWindows(last || new Map())}`);
  }
}

test('three workers on Kafka = one sluice on the embedded log: the same lake, the same scenario windows', {
  skip: (!HAVE_PG && 'PostgreSQL server binaries not found') || (!HAVE_KCAT && 'kcat is not installed'),
}, async (t) => {
  const db = await duck();
  const lake0 = path.join(dir, 'lake-embedded');
  const lake1 = path.join(dir, 'lake-kafka');

  // The reference: one process, embedded log, SQLite catalogue.
  const ref = await startSluice(workerConfig(dir, 'embedded', { lake: lake0 }));
  try {
    await loadCatalogue(ref.admin, membersCsv);
    await catalogueLoaded([ref]);
    await ingest([ref.collector]);
    await lakeComplete(db, lake0);
    await statsExact(ref.admin);
  } finally {
    const r = await stopSluice(ref);
    assert.equal(r.code, 0, ref.stderr);
  }

  // Three workers on Kafka, one catalogue, one lake directory.
  const mock = await startMock();
  const conninfo = pg.createdb();
  const workers = [];
  const exits = [];
  try {
    const cfgs = [0, 1, 2].map((i) => workerConfig(dir, `w${i}`, { bootstrap: mock.bootstrap, lake: lake1, conninfo }));
    for (const c of cfgs) workers.push(await startSluice(c));
    await loadCatalogue(workers[0].admin, membersCsv);
    await catalogueLoaded(workers);
    await ingest(workers.map((w) => w.collector));
    await lakeComplete(db, lake1);
    for (const w of workers) await statsExact(w.admin); // the same sums from every worker

    // The work was shared: several workers wrote lake files and partials.
    const shares = [];
    for (const w of workers) {
      const text = await metrics(w);
      shares.push({
        rows: ['logs.raw', 'events.activity'].reduce((a, t) => a + sample(text, 'sluice_lake_rows_written_total', { topic: t }), 0),
        partials: sample(text, 'sluice_scenario_partials_total', { stage: 'scenario' }),
      });
    }
    t.diagnostic(`per worker: ${shares.map((x) => `${x.rows} lake rows, ${x.partials} partials`).join('; ')}`);
    assert.ok(shares.filter((x) => x.rows > 0).length >= 2, 'the lake work is shared');
    assert.ok(shares.filter((x) => x.partials > 0).length >= 2, 'the scenario work is shared');

    // kcat (an independent client) reads what the workers produced.
    assert.equal(kcatRead(mock.bootstrap, 'logs.raw').length, N_LOGS);
  } finally {
    for (const w of workers) exits.push([w, await stopSluice(w)]);
    await mock.stop();
  }
  for (const [w, r] of exits) assert.equal(r.code, 0, w.stderr);

  // The two lakes hold the same rows, each event once.
  for (const [topic, id, n] of [['logs.raw', 'metadata.request_id', N_LOGS], ['events.activity', 'event_id', N_EVENTS]]) {
    const src = (lake) => `read_parquet('${lake}/${topic}/**/*.parquet', hive_partitioning=true, union_by_name=true)`;
    const cols = (await db.q(`DESCRIBE SELECT * FROM ${src(lake0)}`)).map((c) => `"${c.column_name}"`).sort();
    const cols1 = (await db.q(`DESCRIBE SELECT * FROM ${src(lake1)}`)).map((c) => `"${c.column_name}"`).sort();
    assert.deepEqual(cols1, cols, `${topic}: the same columns`);
    const sel = (lake) => `SELECT ${cols.join(', ')} FROM ${src(lake)}`;
    for (const [a, b] of [[lake0, lake1], [lake1, lake0]]) {
      const [d] = await db.q(`SELECT count(*) AS n FROM (${sel(a)} EXCEPT ALL ${sel(b)})`);
      assert.equal(Number(d.n), 0, `${topic}: rows of ${path.basename(a)} missing from ${path.basename(b)}`);
    }
    const [c] = await db.q(`SELECT count(*) AS n, count(DISTINCT "${id}") AS d FROM ${src(lake1)}`);
    assert.equal(Number(c.n), n, topic);
    assert.equal(Number(c.d), n, `${topic}: each event once`);
  }
  // Nothing temporary left behind in the shared directory.
  assert.deepEqual(lakeFiles(lake1).filter((f) => path.basename(f).startsWith('.')), []);
  db.close();
});
