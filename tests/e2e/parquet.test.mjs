// parquet.test.mjs - sluice's Parquet files read by independent readers.
//
// 100,000 generated events with every column type, nulls, Unicode (Korean,
// 4-byte emoji, escapes), strings over 64 KiB, nested objects (dotted
// columns), arrays (JSON text), int64 extremes, a field that appears
// halfway, and two type conflicts halfway (int -> double, int -> string)
// are written by build/tools/parquet_write once per codec, with several
// row groups and a dictionary that overflows its limit. Then:
//
//   - DuckDB (@duckdb/node-api): count(*), min(ts), max(ts); the column
//     names and types; every value of every row against the source events;
//     WHERE level = 'ERROR' and WHERE "metadata.status_code" >= 500 against
//     the same filters in JS; min/max statistics in parquet_metadata();
//   - hyparquet (+ hyparquet-compressors): every value of every row, and the
//     key-value metadata.
//
// The expected values come from an independent model of sluice's mapping
// written here (flatten to dotted names, integer vs double by the JSON text,
// widening int -> double -> string), not from sluice's own reader.
// SLUICE_TOOLS names the directory of the tools (default build/tools).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TOOLS = path.resolve(ROOT, process.env.SLUICE_TOOLS || 'build/tools');
const TOOL = path.join(TOOLS, 'parquet_write');
const N = 100_000;
const HALF = N / 2;
const BASE_US = 1_705_314_600_000_000n; // 2024-01-15T10:30:00Z

// ---- the events ------------------------------------------------------------

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LEVELS = ['INFO', 'INFO', 'INFO', 'INFO', 'INFO', 'WARN', 'WARN', 'ERROR', 'DEBUG'];
const SERVICES = ['api-gateway', 'user-service', 'order-service', 'payment-service', '결제-서비스'];
const MESSAGES = [
  'Request processed successfully',
  'Cache miss',
  '데이터베이스 연결 시간 초과',
  'emoji 😀🚀 and 𝄞 (4-byte UTF-8)',
  'quotes "q", backslash \\, newline\nand tab\t, control \u0001',
  'Ünïcödé — dash, ½, 日本語',
];
const ENDPOINTS = ['/api/users', '/api/orders', '/api/payments', '/api/search?q=한글', '/health'];
const CODES = [200, 200, 200, 201, 204, 301, 400, 404, 500, 503];
const BIGS = ['9223372036854775807', '-9223372036854775808', '9007199254740993', '-1', '0'];

// One event as an object, and its NDJSON line (int64 extremes spliced in as raw digits).
function makeEvent(i, rnd) {
  const pick = (a) => a[Math.floor(rnd() * a.length)];
  const e = { ts: Number(BASE_US) + i * 1000 + Math.floor(rnd() * 1000) };
  e.level = pick(LEVELS);
  const r = rnd();
  if (r < 0.1) e.service = null;
  else if (r > 0.15) e.service = pick(SERVICES);
  e.message = i % 997 === 0 ? '한'.repeat(22000 + (i % 7)) + '😀' + 'x'.repeat(i % 50) : pick(MESSAGES);
  e.metadata = {
    request_id: `req-${i.toString(16)}-${Math.floor(rnd() * 1e9)}`,
    response_time_ms: Math.floor(rnd() * 2000),
    status_code: rnd() < 0.05 ? null : pick(CODES),
    endpoint: pick(ENDPOINTS),
    client: { ip: `10.0.${Math.floor(rnd() * 4)}.${Math.floor(rnd() * 250)}`, geo: { country: pick(['KR', 'US', 'DE', '日本']) } },
  };
  if (rnd() < 0.5) e.ok = rnd() < 0.7;
  else if (rnd() < 0.3) e.ok = null;
  const d = rnd();
  e.ratio = d < 0.05 ? 1.5e-7 : d < 0.1 ? -3.25e100 : Math.round((rnd() * 1000 - 500) * 1e6) / 1e6;
  if (i % 13 === 0) e.tags = ['a', i % 5, { k: 'v' }, null];
  if (i % 17 === 0) e.empty = {};
  e.latency = i < HALF ? Math.floor(rnd() * 500) : Math.floor(rnd() * 500) + 0.25; // int -> double
  if (rnd() < 0.8) e.code = i < HALF ? Math.floor(rnd() * 100) : `E${Math.floor(rnd() * 100)}`; // int -> string
  if (i >= HALF) e.feature = rnd() < 0.2 ? null : pick(['alpha', 'beta', 'gamma']);
  let line = JSON.stringify(e);
  if (i % 11 === 0) {
    const big = BIGS[i % BIGS.length];
    e.big = BigInt(big);
    line = line.slice(0, -1) + `,"big":${big}}`;
  }
  return { e, line };
}

// ---- the model of sluice's mapping ----------------------------------------

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function kindOf(v) {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'number') {
    const text = JSON.stringify(v); // what the tool reads
    if (/^-?\d+$/.test(text) && BigInt(text) >= INT64_MIN && BigInt(text) <= INT64_MAX) return 'int64';
    return 'double';
  }
  return 'string'; // strings, and arrays as their JSON text
}

function join(a, b) {
  if (a === b) return a;
  if ((a === 'int64' && b === 'double') || (a === 'double' && b === 'int64')) return 'double';
  return 'string';
}

// Flatten to [dotted name, value] leaves, as sluice documents it.
function leaves(obj, prefix, out, top) {
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (top && name === 'ts') continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) leaves(v, name, out, false);
    else out.push([name, Array.isArray(v) ? JSON.stringify(v) : v]);
  }
  return out;
}

function buildModel(events) {
  const columns = new Map([['ts', 'timestamp']]);
  const rows = events.map(({ e }) => {
    const row = new Map();
    for (const [name, v] of leaves(e, '', [], true)) {
      row.set(name, v);
      const k = kindOf(v);
      if (k === 'null') continue;
      columns.set(name, columns.has(name) ? join(columns.get(name), k) : k);
    }
    return row;
  });
  return { columns, rows };
}

function expected(v, type) {
  if (v === null || v === undefined) return null;
  switch (type) {
    case 'int64': return BigInt(v);
    case 'double': return Number(v);
    case 'string': return typeof v === 'string' ? v : String(v);
    default: return v;
  }
}

const DUCK_TYPES = { int64: 'BIGINT', double: 'DOUBLE', string: 'VARCHAR', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP WITH TIME ZONE' };

// ---- the test ---------------------------------------------------------------

function runTool(args, stdinFile) {
  const fd = fs.openSync(stdinFile, 'r');
  try {
    return spawnSync(TOOL, args, { stdio: [fd, 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 20 });
  } finally {
    fs.closeSync(fd);
  }
}

function compareRow(i, got, want, reader) {
  // `got` maps column name -> value normalised to bigint/number/string/boolean/null
  for (const [name, type] of want.columns) {
    const exp = name === 'ts' ? BigInt(want.events[i].e.ts) : expected(want.rows[i].get(name), type);
    const g = got(name);
    if (g !== exp) {
      assert.fail(`${reader}: row ${i} column "${name}" (${type}): got ${String(g).slice(0, 80)} ` +
        `(${typeof g}), want ${String(exp).slice(0, 80)} (${typeof exp})`);
    }
  }
}

describe('parquet files read by DuckDB and hyparquet', () => {
  let dir, ndjson, model, duck, con;
  const files = {};

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-parquet-'));
    ndjson = path.join(dir, 'events.ndjson');
    const rnd = prng(2024);
    const events = [];
    const fd = fs.openSync(ndjson, 'w');
    for (let i = 0; i < N; i++) {
      const ev = makeEvent(i, rnd);
      events.push(ev);
      fs.writeSync(fd, ev.line + '\n');
    }
    fs.closeSync(fd);
    model = buildModel(events);
    model.events = events;
    duck = await DuckDBInstance.create(':memory:', { threads: '2' });
    con = await duck.connect();
  });

  after(() => {
    con?.closeSync?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const variants = [
    { name: 'zstd, 4 row groups', codec: 'zstd', args: ['--row-group-rows', '30000'] },
    { name: 'snappy', codec: 'snappy', args: [] },
    { name: 'gzip, small pages', codec: 'gzip', args: ['--page-rows', '3000'] },
    { name: 'none, dictionary fallback', codec: 'none', args: ['--row-group-rows', '25000', '--dict-limit', '4096'] },
  ];

  for (const v of variants) {
    test(`${v.name}: written, then read back exactly`, async (t) => {
      const file = path.join(dir, `${v.codec}.parquet`);
      const offsets = JSON.stringify({ topic: 'logs.raw', partition: 0, start: 100, end: 100 + N - 1 });
      const res = runTool(['--codec', v.codec, '--kv', `sluice.offsets=${offsets}`, ...v.args, file], ndjson);
      if (res.status !== 0 && /not available/.test(res.stderr)) {
        t.skip(`${v.codec} is not built into this sluice (SL_HAVE_SNAPPY)`);
        return;
      }
      assert.equal(res.status, 0, `parquet_write failed: ${res.stderr}`);
      files[v.codec] = file;
      const q = (sql) => con.runAndReadAll(sql);
      const src = `read_parquet('${file}', file_row_number=true)`;

      // count, min(ts), max(ts)
      const agg = (await q(`SELECT count(*), min(ts), max(ts) FROM ${src}`)).getRows()[0];
      assert.equal(agg[0], BigInt(N)); // DuckDB counts are BigInt
      const tss = model.events.map(({ e }) => BigInt(e.ts));
      const minTs = tss.reduce((a, b) => (b < a ? b : a));
      const maxTs = tss.reduce((a, b) => (b > a ? b : a));
      assert.equal(agg[1].micros, minTs);
      assert.equal(agg[2].micros, maxTs);

      // names and types, in first-seen order with ts first
      const desc = (await q(`DESCRIBE SELECT * EXCLUDE (file_row_number) FROM ${src}`)).getRowObjects();
      assert.deepEqual(desc.map((d) => d.column_name), [...model.columns.keys()]);
      for (const d of desc) assert.equal(d.column_type, DUCK_TYPES[model.columns.get(d.column_name)], d.column_name);
      assert.ok(!model.columns.has('empty'), 'an empty object adds no column');
      assert.equal(model.columns.get('latency'), 'double');
      assert.equal(model.columns.get('code'), 'string');

      // every value of every row, through DuckDB
      const names = [...model.columns.keys()];
      const cols = names.map((n) => `"${n}"`).join(', ');
      const reader = await con.runAndReadAll(`SELECT ${cols} FROM ${src} ORDER BY file_row_number`);
      const rows = reader.getRows();
      assert.equal(rows.length, N);
      const index = new Map(names.map((n, k) => [n, k]));
      for (let i = 0; i < N; i++) {
        const row = rows[i];
        compareRow(i, (name) => {
          const x = row[index.get(name)];
          if (x === null || x === undefined) return null;
          return name === 'ts' ? x.micros : x;
        }, model, 'duckdb');
      }

      // filters against the same filters in JS
      const ids = async (where) =>
        (await q(`SELECT file_row_number FROM ${src} WHERE ${where} ORDER BY 1`)).getRows().map((r) => Number(r[0]));
      const jsIds = (pred) => model.rows.flatMap((r, i) => (pred(r) ? [i] : []));
      assert.deepEqual(await ids(`level = 'ERROR'`), jsIds((r) => r.get('level') === 'ERROR'));
      assert.deepEqual(await ids(`"metadata.status_code" >= 500`),
        jsIds((r) => r.get('metadata.status_code') != null && r.get('metadata.status_code') >= 500));
      assert.deepEqual(await ids(`message LIKE '%😀%'`), jsIds((r) => r.get('message').includes('😀')));

      // statistics: min/max on every row group of the columns people filter on
      const meta = (await q(`SELECT row_group_id, path_in_schema, stats_min_value, stats_max_value, stats_null_count, encodings
                             FROM parquet_metadata('${file}')`)).getRowObjects();
      for (const col of ['ts', 'level', 'metadata.status_code', 'latency']) {
        const chunks = meta.filter((m) => m.path_in_schema === col);
        assert.ok(chunks.length >= 1, col);
        for (const m of chunks) {
          assert.ok(m.stats_min_value !== null && m.stats_max_value !== null, `${col} rg ${m.row_group_id}: min/max`);
          assert.notEqual(m.stats_null_count, null, `${col}: null count`);
        }
      }
      const levelStats = meta.filter((m) => m.path_in_schema === 'level');
      assert.equal(levelStats[0].stats_min_value, 'DEBUG');
      assert.equal(levelStats[0].stats_max_value, 'WARN');
      assert.ok(levelStats.every((m) => m.encodings.includes('RLE_DICTIONARY')), 'level keeps its dictionary');
      if (v.args.includes('--dict-limit')) {
        const ip = meta.filter((m) => m.path_in_schema === 'metadata.client.ip');
        assert.ok(ip.every((m) => !m.encodings.includes('RLE_DICTIONARY')), 'the ip dictionary passed 4096 bytes');
      }

      // every value of every row, through hyparquet
      const buf = await asyncBufferFromFile(file);
      const hmeta = await parquetMetadataAsync(buf);
      const kv = Object.fromEntries((hmeta.key_value_metadata || []).map((e) => [e.key, e.value]));
      assert.equal(kv['sluice.offsets'], offsets);
      const schema = JSON.parse(kv['sluice.schema']);
      assert.deepEqual(schema.columns.map((c) => c.name), names);
      assert.match(hmeta.created_by, /^sluice version /);
      const hrows = await parquetReadObjects({
        file: buf,
        compressors,
        parsers: { timestampFromMicroseconds: (micros) => micros },
      });
      assert.equal(hrows.length, N);
      for (let i = 0; i < N; i++) {
        const row = hrows[i];
        compareRow(i, (name) => (row[name] === undefined ? null : row[name]), model, 'hyparquet');
      }
    });
  }
});
