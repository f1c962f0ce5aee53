// kafka-crash.test.mjs - three sluice workers on Kafka (the mock cluster),
// one of them killed with SIGKILL mid-stream and started again later:
//   - every acknowledged event is in the shared lake exactly once (DuckDB
//     count(*) = count(DISTINCT id)), and the lake holds exactly the records
//     on Kafka (read back with kcat), nothing more;
//   - every 5-second scenario window equals the ground truth computed here.
// The killed worker held partitions of both consumer groups (lake and
// scenario) and took requests on its collector: its partitions go to the
// other two when its session ends (6 s), and some come back when it returns.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { tmpdir, startSluice, stopSluice, sluice, metrics, sample, until, background, SCALE } from './lib.mjs';
import {
  HAVE_KCAT, HAVE_PG, startMock, startPostgres, workerConfig, duck, lakeCount, lakeFiles,
  readMembers, scenarioTruth, scenarioStats, sameWindows, showWindows, loadCatalogue, kcatRead,
} from './kafka-helpers.mjs';

const RATE = Math.round(1500 * SCALE);
const SECONDS = 10;
const START = '2026-01-11T09:00:00Z';

let dir, pg;

before(async () => {
  dir = tmpdir('sluice-kafka-crash-');
  if (HAVE_PG) pg = await startPostgres(dir);
});

after(() => {
  pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const readIds = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

test('kill -9 one of three workers mid-stream, restart it: every acknowledged event once, exact windows', {
  skip: (!HAVE_PG && 'PostgreSQL server binaries not found') || (!HAVE_KCAT && 'kcat is not installed'),
}, async (t) => {
  const lake = path.join(dir, 'lake');
  const membersCsv = path.join(dir, 'members.csv');
  const webFile = path.join(dir, 'web.ndjson');
  const nWeb = RATE * SECONDS;
  // The web traffic, written first to compute its truth: the same seed and
  // start give the same events when the generator sends them.
  const webArgs = ['gen', 'web', '--count', String(nWeb), '--rate', String(RATE), '--seed', '7', '--start', START,
    '--as', 'json', '--scenarios', '5,6', '--members', '300', '--no-progress'];
  const g = sluice([...webArgs, '--members-csv', membersCsv, '--to', `file:${webFile}`]);
  assert.equal(g.code, 0, g.stderr);
  const truth = scenarioTruth(fs.readFileSync(webFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)),
    readMembers(membersCsv));

  const mock = await startMock();
  const conninfo = pg.createdb();
  // Files roll every 2,000 rows, so the lake grows while the stream runs.
  const cfgs = [0, 1, 2].map((i) => workerConfig(dir, `w${i}`,
    { bootstrap: mock.bootstrap, lake, conninfo, lakeExtra: ', max_rows: 2000' }));
  const w = [];
  const db = await duck();
  const exits = [];
  try {
    w.push(...(await Promise.all(cfgs.map((c) => startSluice(c)))));
    await loadCatalogue(w[0].admin, membersCsv);
    await until('the processors to load the scenarios', async () => {
      for (const s of w)
        if (sample(await metrics(s), 'sluice_scenario_scenarios', { stage: 'scenario' }) !== 2) return false;
      return true;
    }, 15000);

    // Streams: logs into w0 and into w2 (the one killed), activity events
    // and web traffic into w1. --truth lists what each collector acknowledged.
    const truthFile = (name) => path.join(dir, `${name}.acked`);
    const gen = (args, to, name) => background([...args, '--rate', String(RATE), '--start', START,
      '--no-progress', '--truth', truthFile(name), '--to', to]);
    const logs0 = gen(['gen', 'logs', '--count', String(RATE * SECONDS), '--seed', '11'], `${w[0].collector}/api/collect`, 'logs0');
    const logs2 = gen(['gen', 'logs', '--count', String(RATE * SECONDS), '--seed', '12', '--max-retries', '1',
      '--timeout', '2s'], `${w[2].collector}/api/collect`, 'logs2');
    const events = gen(['gen', 'events', '--count', String(RATE * SECONDS), '--seed', '13'], `${w[1].collector}/api/collect`, 'events');
    const web = background([...webArgs, '--to', `${w[1].collector}/api/collect?topic=web.raw`]);

    // Mid-stream, once w2 has written to the lake: kill -9.
    await until('w2 to write lake files', async () =>
      sample(await metrics(w[2]), 'sluice_lake_files_written_total', { topic: 'logs.raw' }) > 0, 20000);
    const ackedBefore = readIds(truthFile('logs2')).length;
    w[2].proc.kill('SIGKILL');
    await w[2].exit;
    w[2] = null;
    t.diagnostic(`w2 killed after ${ackedBefore} of its logs were acknowledged`);
    assert.ok(ackedBefore > 0 && ackedBefore < RATE * SECONDS, `killed mid-stream (${ackedBefore})`);
    const r2 = await logs2.done;
    assert.notEqual(r2.code, 0, 'the generator of the killed worker gives up');

    // The others take over its partitions; later it comes back.
    await until('the others to go on writing the lake', async () =>
      (await lakeCount(db, lake, 'logs.raw')) > readIds(truthFile('logs2')).length + RATE, 30000);
    w[2] = await startSluice(cfgs[2]);
    t.diagnostic(`w2 restarted with ${await lakeCount(db, lake, 'logs.raw')} logs in the lake`);

    for (const [name, g2] of [['logs0', logs0], ['events', events], ['web', web]]) {
      const r = await g2.done;
      assert.equal(r.code, 0, `${name}: ${g2.stderr}`);
    }

    // The lake holds exactly the records on Kafka, each once, and every
    // acknowledged one.
    const acked = [...readIds(truthFile('logs0')), ...readIds(truthFile('logs2'))];
    const onKafka = kcatRead(mock.bootstrap, 'logs.raw').map((r) => r.value.metadata.request_id);
    const kafkaIds = new Set(onKafka);
    assert.equal(kafkaIds.size, onKafka.length, 'no duplicates on Kafka');
    assert.deepEqual(acked.filter((id) => !kafkaIds.has(id)), [], 'acknowledged but not on Kafka');
    const nEvents = kcatRead(mock.bootstrap, 'events.activity').length;
    await until('the lake to hold every record on Kafka', async () =>
      (await lakeCount(db, lake, 'logs.raw')) >= onKafka.length &&
      (await lakeCount(db, lake, 'events.activity')) >= nEvents, 60000);
    const src = (topic) => `read_parquet('${lake}/${topic}/**/*.parquet', hive_partitioning=true, union_by_name=true)`;
    const [c] = await db.q(`SELECT count(*) AS n, count(DISTINCT "metadata.request_id") AS d FROM ${src('logs.raw')}`);
    assert.equal(Number(c.n), onKafka.length, 'logs.raw: the lake holds what Kafka holds');
    assert.equal(Number(c.d), onKafka.length, 'logs.raw: each event once');
    const inLake = new Set((await db.q(`SELECT "metadata.request_id" AS id FROM ${src('logs.raw')}`)).map((r) => r.id));
    assert.deepEqual(acked.filter((id) => !inLake.has(id)), [], 'acknowledged but not in the lake');
    const [e] = await db.q(`SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM ${src('events.activity')}`);
    assert.equal(Number(e.n), nEvents);
    assert.equal(Number(e.d), nEvents);
    assert.deepEqual(lakeFiles(lake).filter((f) => path.basename(f).startsWith('.')), []);
    t.diagnostic(`lake: ${c.n} logs (${acked.length} acknowledged), ${e.n} activity events`);

    // Every 5-second scenario window equals the truth.
    let last;
    try {
      await until('every scenario window to equal the ground truth', async () => {
        last = await scenarioStats(w[0].admin);
        return sameWindows(last, truth);
      }, 60000);
    } catch (err) {
      assert.fail(`${err.message}\nwant ${showWindows(truth)}\ngot  ${showWindows(last || new Map())}`);
    }
  } finally {
    for (const s of w) if (s) exits.push([s, await stopSluice(s)]);
    await mock.stop();
    db.close();
  }
  for (const [s, r] of exits) assert.equal(r.code, 0, s.stderr);
});
