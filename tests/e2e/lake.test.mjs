// lake.test.mjs - the lake output end to end: the real binary writes the
// lake from the collector's topic, and independent readers check it.
//
// 100,000 generated events (fewer under ASan, SCALE) go through
// POST /api/collect into logs.raw: every JSON type, nulls, absent fields,
// Unicode and escapes, strings over 64 KiB, nested objects (dotted
// columns), arrays (JSON text), and halfway a schema change: a new field
// (extra.added) and two type changes (code int -> string, latency int ->
// double). Event times span six hours with +-20 s of disorder, written in
// four shapes (ISO Z with microseconds, ISO +09:00, epoch seconds as a
// float, epoch milliseconds) - seed 004's pitfall. Then:
//
//   - DuckDB: count(*), min(ts), max(ts) over read_parquet('<lake>/**/*.parquet',
//     hive_partitioning=true) equal the source; every column of every row
//     equals the source event (union_by_name=true across the schema change);
//     filters on columns and on `hour` return the same rows as the source;
//     every row sits in the hour directory of its own event time, and the
//     ISO and epoch forms of one instant share year=2026/month=1/day=11/hour=9;
//   - hyparquet: every file, every row: partition and offsets match the
//     file name, the rows' ids are the log's records of that range;
//   - the log's records are in the lake exactly once; no temporary file is
//     left or visible; metrics count files, rows and bytes; `sluice lake ls`,
//     `schema` and `cat` read the files;
//   - `sluice lake compact` leaves the row set identical (EXCEPT ALL both ways
//     empty) with fewer files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import {
  tmpdir, writeConfig, startSluice, stopSluice, sluice, post, metrics, sample, until, readTopic,
  rng, SCALE,
} from './lib.mjs';

const N = Math.round(100_000 * SCALE);
const HALF = Math.floor(N / 2);
const BASE_US = 1768114800000000n; // 2026-01-11T07:00:00Z
const SPAN_US = 6n * 3600n * 1000000n;
const LEVELS = ['INFO', 'INFO', 'INFO', 'WARN', 'ERROR', 'DEBUG'];
const SERVICES = ['api-gateway', 'user-service', 'order-service', 'payment-service', '결제-서비스', 'search'];
const MESSAGES = [
  'Request processed successfully',
  '데이터베이스 연결 시간 초과',
  'emoji 😀🚀 and 𝄞',
  'quotes "q", backslash \\, newline\nand tab\t, control \u0001',
  'Ünïcödé — ½ 日本語',
];

// ---- the source events -------------------------------------------------------

function isoMicros(us, offsetMin = 0) {
  const shifted = us + BigInt(offsetMin) * 60000000n;
  const d = new Date(Number(shifted / 1000n));
  const frac = (shifted % 1000000n).toString().padStart(6, '0');
  const base = d.toISOString().slice(0, 19);
  if (!offsetMin) return `${base}.${frac}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${base}.${frac}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// One event: the object to send (timestamp as raw JSON text spliced in) and what the lake must hold.
function makeEvent(i, rnd) {
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const jitter = BigInt(Math.floor((rnd() - 0.5) * 40e6));
  let us = BASE_US + (SPAN_US * BigInt(i)) / BigInt(N) + jitter;
  if (us < BASE_US) us = BASE_US;
  let tsText;
  switch (i % 4) {
    case 0: tsText = JSON.stringify(isoMicros(us)); break;
    case 1: tsText = `${us / 1000000n}.${(us % 1000000n).toString().padStart(6, '0')}`; break;
    case 2: us -= us % 1000n; tsText = `${us / 1000n}`; break;
    default: tsText = JSON.stringify(isoMicros(us, 9 * 60)); break;
  }
  const e = {
    level: pick(LEVELS),
    service: pick(SERVICES),
    message: i % 5003 === 7 ? '긴'.repeat(30000) + '😀' + 'x'.repeat(i % 97) : pick(MESSAGES),
    request_id: `ev-${i}`,
    n_int: Math.floor((rnd() - 0.5) * 2e12),
    f_double: Math.round((rnd() - 0.5) * 1e6) / 64 + 0.001,
    flag: rnd() < 0.1 ? null : rnd() < 0.5,
    nested: { a: { b: Math.floor(rnd() * 1000) }, c: pick(['x', 'y', 'ζ']) },
    tags: rnd() < 0.3 ? [] : [pick(['a', 'b']), Math.floor(rnd() * 10), { k: 'v' }],
    code: i < HALF ? Math.floor(rnd() * 600) : `E${Math.floor(rnd() * 600)}`,
    latency: i < HALF ? Math.floor(rnd() * 900) : Math.floor(rnd() * 900) + 0.25,
  };
  if (rnd() < 0.5) e.maybe = rnd() < 0.5 ? null : `m${i % 13}`;
  if (i >= HALF) e.extra = { added: `added-${i % 7}` };
  const body = JSON.stringify(e);
  const line = `{"timestamp":${tsText},${body.slice(1)}`;
  return { e, us, line };
}

// The lake's value of each compared column, as DuckDB's getRowObjectsJson shows it
// (BIGINT as text, DOUBLE as number) after union_by_name widened across files.
const COLUMNS = {
  level: (e) => e.level,
  service: (e) => e.service,
  message: (e) => e.message,
  n_int: (e) => String(e.n_int),
  f_double: (e) => e.f_double,
  flag: (e) => e.flag,
  'nested.a.b': (e) => String(e.nested.a.b),
  'nested.c': (e) => e.nested.c,
  tags: (e) => JSON.stringify(e.tags),
  maybe: (e) => (e.maybe === undefined ? null : e.maybe),
  code: (e) => String(e.code),
  latency: (e) => e.latency,
  'extra.added': (e) => (e.extra ? e.extra.added : null),
};

function hourOf(us) {
  const d = new Date(Number(us / 1000n));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() };
}

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

describe('the lake output, read by DuckDB and hyparquet', () => {
  let dir, data, lake, s, duck, con, events, byId;
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const src = () => `read_parquet('${lake}/logs.raw/**/*.parquet', hive_partitioning=true, union_by_name=true)`;

  before(async () => {
    dir = tmpdir('sluice-lake-');
    data = `${dir}/data`;
    lake = `${data}/lake`;
    const cfg = writeConfig(dir, `outputs:
  - { type: lake, from: [logs.raw, events.activity], flush_interval: 300ms, max_rows: ${Math.round(15000 * SCALE)} }
`);
    s = await startSluice(cfg);
    const rnd = rng(4004);
    events = [];
    for (let i = 0; i < N; i++) events.push(makeEvent(i, rnd));
    // Seed 004's pitfall, spelled out: one instant, four shapes, one hour directory.
    const pit = [
      '"2026-01-11T09:19:26.291045Z"', '1768123166.291045', '1768123166291', '"2026-01-11T18:19:26.291045+09:00"',
    ].map((t, k) => ({
      e: { level: 'INFO', service: 'pitfall', message: 'same hour', request_id: `pit-${k}` },
      us: k === 2 ? 1768123166291000n : 1768123166291045n,
      line: `{"timestamp":${t},"level":"INFO","service":"pitfall","message":"same hour","request_id":"pit-${k}"}`,
    }));
    events.push(...pit);
    byId = new Map(events.map((ev) => [ev.e.request_id, ev]));
    const batch = 1000;
    for (let i = 0; i < events.length; i += batch) {
      const chunk = events.slice(i, i + batch);
      const r = await post(`${s.collector}/api/collect`, `[${chunk.map((ev) => ev.line).join(',')}]`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.accepted, chunk.length, r.text.slice(0, 500));
    }
    await until('the lake to hold every event', async () =>
      sample(await metrics(s), 'sluice_lake_rows_written_total', { topic: 'logs.raw' }) >= events.length, 60000);
    duck = await DuckDBInstance.create(':memory:', { threads: '2' });
    con = await duck.connect();
    await con.run(`SET TimeZone = 'UTC'`);
  });

  after(async () => {
    await stopSluice(s);
    con?.closeSync?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('count, min(ts) and max(ts) equal what was ingested; metrics agree', async () => {
    const m = await metrics(s);
    const [agg] = await q(`SELECT count(*) AS n, count(DISTINCT request_id) AS ids,
      epoch_us(min(ts)) AS lo, epoch_us(max(ts)) AS hi
      FROM read_parquet('${lake}/logs.raw/**/*.parquet', hive_partitioning=true)`);
    const tss = events.map((ev) => ev.us);
    assert.equal(agg.n, String(events.length));
    assert.equal(agg.ids, String(events.length));
    assert.equal(agg.lo, String(tss.reduce((a, b) => (b < a ? b : a))));
    assert.equal(agg.hi, String(tss.reduce((a, b) => (b > a ? b : a))));
    const files = walk(lake).filter((f) => f.endsWith('.parquet') && f.includes('/logs.raw/'));
    assert.equal(sample(m, 'sluice_lake_files_written_total', { topic: 'logs.raw' }), files.length);
    assert.equal(sample(m, 'sluice_lake_bytes_written_total', { topic: 'logs.raw' }),
      files.reduce((a, f) => a + fs.statSync(f).size, 0));
    assert.ok(sample(m, 'sluice_lake_flush_seconds_count') >= files.length);
    assert.equal(sample(m, 'sluice_lake_records_rejected_total', { topic: 'logs.raw' }), 0);
  });

  test('every column of every row equals the source event (schema change halfway)', async () => {
    const desc = await q(`DESCRIBE SELECT * FROM ${src()}`);
    const types = Object.fromEntries(desc.map((d) => [d.column_name, d.column_type]));
    assert.equal(types.ts, 'TIMESTAMP WITH TIME ZONE');
    assert.equal(types['extra.added'], 'VARCHAR', 'a new field became a column');
    assert.equal(types.code, 'VARCHAR', 'int widened to string');
    assert.equal(types.latency, 'DOUBLE', 'int widened to double');
    assert.equal(types['nested.a.b'], 'BIGINT', 'nested objects are dotted columns');
    const cols = Object.keys(COLUMNS).map((c) => `"${c}"`).join(', ');
    const rows = await q(`SELECT request_id, epoch_us(ts) AS ts_us, year, month, day, hour, ${cols} FROM ${src()}`);
    assert.equal(rows.length, events.length);
    const seen = new Set();
    for (const r of rows) {
      const ev = byId.get(r.request_id);
      assert.ok(ev, `unknown row ${r.request_id}`);
      assert.ok(!seen.has(r.request_id), `${r.request_id} twice`);
      seen.add(r.request_id);
      assert.equal(r.ts_us, String(ev.us), `${r.request_id}: ts`);
      const h = hourOf(ev.us);
      assert.deepEqual([Number(r.year), Number(r.month), Number(r.day), Number(r.hour)],
        [h.year, h.month, h.day, h.hour], `${r.request_id}: hour directory of its event time`);
      if (ev.e.service === 'pitfall') continue;
      for (const [c, f] of Object.entries(COLUMNS)) {
        const want = f(ev.e);
        if (r[c] !== want) {
          assert.fail(`${r.request_id} column ${c}: got ${String(r[c]).slice(0, 60)} (${typeof r[c]}), ` +
            `want ${String(want).slice(0, 60)} (${typeof want})`);
        }
      }
    }
  });

  test('filters on columns and on hour return the same rows as the source', async () => {
    const ids = async (where) => (await q(`SELECT request_id FROM ${src()} WHERE ${where}`))
      .map((r) => r.request_id).sort();
    const js = (pred) => events.filter((ev) => ev.e.service !== 'pitfall' && pred(ev)).map((ev) => ev.e.request_id).sort();
    assert.deepEqual(await ids(`level = 'ERROR' AND service <> 'pitfall'`), js((ev) => ev.e.level === 'ERROR'));
    assert.deepEqual(await ids(`hour = 9 AND service <> 'pitfall'`), js((ev) => hourOf(ev.us).hour === 9));
    assert.deepEqual(await ids(`"nested.a.b" >= 900 AND flag`), js((ev) => ev.e.nested.a.b >= 900 && ev.e.flag === true));
    assert.deepEqual(await ids(`"extra.added" = 'added-3'`), js((ev) => ev.e.extra?.added === 'added-3'));
    assert.deepEqual(await ids(`message LIKE '%😀%'`), js((ev) => ev.e.message.includes('😀')));
  });

  test("seed 004's pitfall: ISO and epoch event times share the right hour; no default partition", async () => {
    const pit = await q(`SELECT request_id, year, month, day, hour FROM ${src()} WHERE service = 'pitfall' ORDER BY 1`);
    assert.equal(pit.length, 4);
    for (const r of pit) {
      assert.deepEqual([r.year, r.month, r.day, r.hour].map(Number), [2026, 1, 11, 9], r.request_id);
    }
    const files = walk(lake);
    assert.ok(files.every((f) => !/HIVE_DEFAULT|=null|=NaN|=-|=undefined/.test(f)), 'no default partition');
    const hours = (await q(`SELECT DISTINCT year, month, day, hour FROM ${src()} ORDER BY hour`))
      .map((r) => `${r.year}-${r.month}-${r.day} ${r.hour}`);
    assert.deepEqual(hours.slice(0, 6), ['2026-1-11 7', '2026-1-11 8', '2026-1-11 9', '2026-1-11 10',
      '2026-1-11 11', '2026-1-11 12']);
    assert.ok(hours.length <= 7, hours.join(', '));
  });

  test('hyparquet reads every file; names, offsets and hours match the log', async () => {
    const records = readTopic(data, 'logs.raw'); // the log, as `sluice log tail --meta` shows it
    assert.equal(records.length, events.length);
    const where = new Map(records.map((r) => [r.value.request_id, r]));
    const files = walk(lake).filter((f) => f.endsWith('.parquet') && f.includes('/logs.raw/'));
    let total = 0;
    const seen = new Set();
    for (const f of files) {
      const m = path.basename(f).match(/^logs\.raw\+(\d+)\+(\d{10,})\+(\d{10,})\.parquet$/);
      assert.ok(m, f);
      const [p, start, end] = [Number(m[1]), Number(m[2]), Number(m[3])];
      const dirm = f.match(/year=(\d+)\/month=(\d+)\/day=(\d+)\/hour=(\d+)\//);
      const buf = await asyncBufferFromFile(f);
      const meta = await parquetMetadataAsync(buf);
      const kv = Object.fromEntries((meta.key_value_metadata || []).map((e) => [e.key, e.value]));
      assert.equal(kv['sluice.topic'], 'logs.raw');
      assert.equal(Number(kv['sluice.partition']), p);
      assert.equal(Number(kv['sluice.start_offset']), start);
      assert.equal(Number(kv['sluice.end_offset']), end);
      const rows = await parquetReadObjects({ file: buf, compressors, parsers: { timestampFromMicroseconds: (x) => x } });
      assert.equal(rows.length, Number(meta.num_rows));
      for (const row of rows) {
        const rec = where.get(row.request_id);
        assert.ok(rec, `${f}: unknown ${row.request_id}`);
        assert.equal(rec.partition, p, `${row.request_id}: partition`);
        assert.ok(rec.offset >= start && rec.offset <= end, `${row.request_id}: offset ${rec.offset} outside ${start}..${end}`);
        assert.equal(BigInt(row.ts), byId.get(row.request_id).us);
        const h = hourOf(byId.get(row.request_id).us);
        assert.deepEqual(dirm.slice(1).map(Number), [h.year, h.month, h.day, h.hour], `${row.request_id}: directory`);
        assert.equal(row.message, byId.get(row.request_id).e.message);
        assert.ok(!seen.has(row.request_id));
        seen.add(row.request_id);
      }
      total += rows.length;
    }
    assert.equal(total, events.length, 'every record of the log, once');
  });

  test('sluice lake ls, schema and cat read the lake', async () => {
    const ls = sluice(['lake', 'ls', '--data', data, '--topic', 'logs.raw', '--json']);
    assert.equal(ls.code, 0, ls.stderr);
    const parts = ls.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(parts.reduce((a, p) => a + p.rows, 0), events.length);
    assert.ok(parts.every((p) => /^year=2026\/month=1\/day=11\/hour=\d+$/.test(p.hour)));
    const table = sluice(['lake', 'ls', '--data', data]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`logs\\.raw: \\d+ files, ${events.length} rows`));
    const file = walk(lake).filter((f) => f.endsWith('.parquet'))
      .sort((x, y) => fs.statSync(y).size - fs.statSync(x).size)[0];
    const schema = sluice(['lake', 'schema', file]);
    assert.equal(schema.code, 0, schema.stderr);
    assert.match(schema.stdout, /^ {2}ts +timestamp$/m);
    assert.match(schema.stdout, /^ {2}nested\.a\.b +int64$/m);
    const cat = sluice(['lake', 'cat', file, '--limit', '3']);
    assert.equal(cat.code, 0, cat.stderr);
    const lines = cat.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines) assert.ok(byId.has(JSON.parse(l).request_id));
    for (const args of [['lake', '--help'], ['lake', 'ls', '--help'], ['lake', 'schema', '--help'],
      ['lake', 'cat', '--help'], ['lake', 'compact', '--help']]) {
      const r = sluice(args);
      assert.equal(r.code, 0, args.join(' '));
      assert.match(r.stdout, /usage: sluice lake/);
    }
    assert.equal(sluice(['lake', 'cat']).code, 2);
    assert.equal(sluice(['lake', 'frobnicate']).code, 2);
  });

  test('after a clean stop: no temporary file, none visible to read_parquet', async () => {
    const r = await stopSluice(s);
    assert.equal(r.code, 0, s.stderr);
    const leftovers = walk(lake).filter((f) => path.basename(f).startsWith('.') && !f.endsWith('.sluice-lake.lock'));
    assert.deepEqual(leftovers, []);
    const names = await q(`SELECT DISTINCT filename FROM read_parquet('${lake}/**/*.parquet', filename=true)`);
    assert.ok(names.every((n) => !path.basename(n.filename).startsWith('.')));
    // Real Parquet bytes under the three hidden names: the glob must not read them.
    const real = walk(lake).find((f) => f.endsWith('.parquet'));
    const planted = ['tmp', 'merging', 'compacted'].map((k) =>
      path.join(path.dirname(real), `.${path.basename(real)}.${k}`));
    for (const p of planted) fs.copyFileSync(real, p);
    const [n] = await q(`SELECT count(*) AS n FROM read_parquet('${lake}/**/*.parquet')`);
    assert.equal(n.n, String(events.length), 'a hidden file was read');
    for (const p of planted) fs.unlinkSync(p);
  });

  test('compaction keeps the row set identical (EXCEPT ALL both ways is empty)', async () => {
    const cols = `request_id, ts, year, month, day, hour, ${Object.keys(COLUMNS).map((c) => `"${c}"`).join(', ')}`;
    await con.run(`CREATE TABLE before AS SELECT ${cols} FROM ${src()}`);
    const filesBefore = walk(lake).filter((f) => f.endsWith('.parquet')).length;
    const c = sluice(['lake', 'compact', '--data', data, '--older-than', '1h']);
    assert.equal(c.code, 0, c.stdout + c.stderr);
    assert.match(c.stdout, /merged files from/);
    const filesAfter = walk(lake).filter((f) => f.endsWith('.parquet')).length;
    assert.ok(filesAfter < filesBefore, `${filesBefore} -> ${filesAfter} files`);
    const [a] = await q(`SELECT count(*) AS n FROM (SELECT * FROM before EXCEPT ALL SELECT ${cols} FROM ${src()})`);
    const [b] = await q(`SELECT count(*) AS n FROM (SELECT ${cols} FROM ${src()} EXCEPT ALL SELECT * FROM before)`);
    assert.equal(a.n, '0');
    assert.equal(b.n, '0');
    const [n] = await q(`SELECT count(*) AS n FROM ${src()}`);
    assert.equal(n.n, String(events.length));
    // Names still say where the lake ends: resume points are unchanged.
    const ls = sluice(['lake', 'ls', '--data', data, '--json']);
    const parts = ls.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((p) => p.topic === 'logs.raw');
    const ends = {};
    for (const p of parts) for (const [, e] of p.offsets) ends[p.partition] = Math.max(ends[p.partition] ?? -1, e);
    const records = readTopic(data, 'logs.raw');
    for (const [p, e] of Object.entries(ends)) {
      assert.equal(e, Math.max(...records.filter((r) => r.partition === Number(p)).map((r) => r.offset)));
    }
  });
});
