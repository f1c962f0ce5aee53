// prometheus.test.mjs - sluice and the monitoring files it ships under
// deploy/: promtool accepts the alert rules (and their unit tests pass) and
// the scrape config; /metrics passes `promtool check metrics` with every
// kind of stage running; every metric the Grafana dashboards and the alert
// rules name is exported by a running sluice (embedded log with a tail
// input, the pixel, the scenario processor, the lake and redis outputs; and
// one on the Kafka backend against the mock cluster); and a real Prometheus
// scrapes sluice (`up == 1`), reads the ingest counter equal to what was
// sent, loads the rules, and evaluates every Grafana query without error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, BIN, SLOW, tmpdir, writeConfig, startSluice, stopSluice, post, until, metrics, freePort, partitionFor,
} from './lib.mjs';

const DEPLOY = path.join(ROOT, 'deploy');
const RULES = path.join(DEPLOY, 'prometheus/sluice-alerts.yml');
const TOOLS = process.env.SLUICE_TOOLS || path.join(path.dirname(BIN), 'tools');

function promtool(args, cwd = path.join(DEPLOY, 'prometheus'), input) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', input });
  return { code: r.status, out: (r.stdout || '') + (r.stderr || '') };
}

// Every Grafana dashboard: [{file, title, exprs: [...]}].
function dashboards() {
  const dir = path.join(DEPLOY, 'grafana/dashboards');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => {
    const d = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    const exprs = [];
    const walk = (panels) => {
      for (const p of panels || []) {
        for (const t of p.targets || []) if (t.expr) exprs.push(t.expr);
        walk(p.panels);
      }
    };
    walk(d.panels);
    for (const v of d.templating.list) if (v.type === 'query') exprs.push(typeof v.query === 'string' ? v.query : v.query.query);
    return { file: f, title: d.title, uid: d.uid, exprs };
  });
}

// sluice_* names in a PromQL expression, with histogram suffixes taken off.
function metricNames(expr) {
  return [...expr.matchAll(/\bsluice_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

// The metric families a /metrics text declares.
function families(text) {
  return new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
}

// Grafana variables -> values that select everything.
function concrete(expr) {
  return expr.replace(/\$instance/g, '.+').replace(/\$lake_groups/g, '.*').replace(/label_values\(([^,]+), \w+\)/, '$1');
}

test('promtool accepts the shipped rules, their unit tests and the scrape config', () => {
  let r = promtool(['check', 'rules', RULES]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: 7 rules found/);
  r = promtool(['test', 'rules', 'sluice-alerts.test.yml']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS/);
  r = promtool(['check', 'config', 'prometheus.yml']);
  assert.equal(r.code, 0, r.out);
  // The seed's three alerts, at the seed's thresholds.
  const rules = fs.readFileSync(RULES, 'utf8');
  assert.match(rules, /alert: SluiceHighErrorRate\n\s+expr: sluice:collector_error_ratio:rate5m > 0\.05\n\s+for: 5m/);
  assert.match(rules, /alert: SluiceConsumerLag\n\s+expr: sum by \(instance, group\) \(sluice_consumer_lag\) > 10000\n\s+for: 10m/);
  assert.match(rules, /sluice_stage_up == 0/);
  assert.match(rules, /increase\(sluice_stage_restarts_total\[10m\]\) > 0/);
  // Four provisioning-ready dashboards, each with its own uid, and the provider.
  const ds = dashboards();
  assert.deepEqual(ds.map((d) => d.title).sort(),
    ['sluice / Lake', 'sluice / Log and Kafka', 'sluice / Overview', 'sluice / Processing']);
  assert.equal(new Set(ds.map((d) => d.uid)).size, 4);
  for (const d of ds) assert.ok(d.exprs.length >= 8, `${d.file} has panels`);
  assert.match(fs.readFileSync(path.join(DEPLOY, 'grafana/provisioning/dashboards/sluice.yaml'), 'utf8'),
    /path: \/var\/lib\/grafana\/dashboards\/sluice/);
});

test('the systemd unit runs sluice unprivileged with a 0700 state directory', () => {
  const unit = fs.readFileSync(path.join(DEPLOY, 'systemd/sluice.service'), 'utf8');
  for (const line of ['User=sluice', 'StateDirectory=sluice', 'StateDirectoryMode=0700', 'ProtectSystem=strict',
    'NoNewPrivileges=yes', 'ExecReload=/bin/kill -HUP $MAINPID', 'KillSignal=SIGTERM'])
    assert.ok(unit.split('\n').includes(line), line);
  assert.match(unit, /^ExecStart=\S+sluice run -c \/etc\/sluice\/sluice\.yaml --data \/var\/lib\/sluice$/m);
  // systemd's own checker, where there is one (the ExecStart binary must exist).
  if (spawnSync('systemd-analyze', ['--version']).status === 0) {
    const dir = tmpdir();
    const copy = path.join(dir, 'sluice.service');
    fs.writeFileSync(copy, unit.replaceAll('/usr/local/bin/sluice', BIN));
    const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /sluice\.service:\d+: /, r.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// sluice with a stage of every kind; returns the running process. Its log
// starts with a torn tail to recover (sluice_log_recovered_bytes_dropped_total).
async function startFull(dir) {
  const access = path.join(dir, 'access.log');
  fs.writeFileSync(access,
    '127.0.0.1 - - [11/Jan/2026:09:19:26 +0000] "GET /5?memberId=1&h=10 HTTP/1.1" 200 43 "-" "curl/8"\n' +
    'not an nginx line\n');
  const cfg = writeConfig(dir, `topics:
  logs.raw: { partitions: 3, key: service, require: { level: string, service: string, message: string } }
  events.activity: { partitions: 3, key: user_id }
  web.raw: { partitions: 3, key: memberId }
  scenario.results: { partitions: 3, key: scenario_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
inputs:
  - { type: tail, path: ${access}, format: combined, topic: web.raw }
processors:
  - { type: scenario, from: web.raw, to: scenario.results, stats_topic: scenario.stats }
outputs:
  - { type: lake, from: [logs.raw], flush_interval: 500ms }
  - { type: redis, url: "redis://127.0.0.1:${await freePort()}/0" }
  - { type: stdout, from: [events.activity] }
`);
  const first = await startSluice(cfg, { args: ['--only', 'collector'] });
  const ev = { timestamp: '2026-01-11T09:19:26Z', level: 'INFO', service: 'a', message: 'before the tear' };
  assert.equal((await post(first.collector + '/api/collect', JSON.stringify(ev))).status, 200);
  assert.equal((await stopSluice(first)).code, 0, first.stderr);
  const part = path.join(dir, 'data/log/logs.raw', String(partitionFor('a', 3)));
  const seg = fs.readdirSync(part).find((f) => f.endsWith('.log'));
  fs.appendFileSync(path.join(part, seg), Buffer.alloc(20, 0xab)); // a torn batch
  const s = await startSluice(cfg);
  // A body that is not JSON: a whole request rejected.
  assert.equal((await post(s.collector + '/api/collect', '{"level":')).status, 400);
  return s;
}

async function startMock() {
  const mock = path.join(TOOLS, 'kafka_mock');
  assert.ok(fs.existsSync(mock), `${mock} (make unit builds it)`);
  const topics = ['logs.raw:3', 'events.activity:3', 'alerts.realtime:1', '_dlq:1'];
  const proc = spawn(mock, topics.flatMap((t) => ['--topic', t]), { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  const exit = new Promise((resolve) => proc.on('exit', resolve));
  const bootstrap = await until('kafka_mock to print BOOTSTRAP', () => (out.match(/^BOOTSTRAP (\S+)$/m) || [])[1]);
  return {
    bootstrap,
    stop: async () => {
      proc.stdin.end();
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      await exit;
      clearTimeout(t);
    },
  };
}

test('every metric the dashboards and alerts name is on /metrics; promtool check metrics', { timeout: 120000 * SLOW }, async () => {
  const dir = tmpdir();
  const s = await startFull(dir);
  const mock = await startMock();
  const kdir = tmpdir();
  const kcfg = path.join(kdir, 'sluice.yaml');
  fs.writeFileSync(kcfg, `data_dir: ${kdir}/data
log: { backend: kafka }
kafka:
  bootstrap.servers: "${mock.bootstrap}"
  sluice.timeout.ms: "5000"
topics:
  logs.raw: { partitions: 3, key: service }
  events.activity: { partitions: 3, key: user_id }
  alerts.realtime: { partitions: 1 }
collector:
  listen: 127.0.0.1:0
  routes:
    - { when: 'has(level)', topic: logs.raw }
admin:
  listen: 127.0.0.1:0
`);
  const k = await startSluice(kcfg);
  try {
    const ev = JSON.stringify([{ timestamp: '2026-01-11T09:19:26Z', level: 'INFO', service: 'a', message: 'm' }, { level: 1 }]);
    assert.equal((await post(s.collector + '/api/collect', ev)).status, 200);
    assert.equal((await post(k.collector + '/api/collect', ev)).status, 200);
    assert.equal((await fetch(s.collector + '/5?memberId=1&h=10')).status, 200);
    await until('the tail input to read its file', async () => /sluice_tail_lines_total\{input="tail"\} [1-9]/.test(await metrics(s)));
    await until('the lake to write a file', async () => /sluice_lake_files_written_total\{topic="logs.raw"\} [1-9]/.test(await metrics(s)));

    const text = await metrics(s);
    const r = promtool(['check', 'metrics'], ROOT, text);
    assert.equal(r.code, 0, r.out);
    const exported = new Set([...families(text), ...families(await metrics(k))]);
    const named = new Map(); // name -> where it is used
    for (const d of dashboards()) for (const e of d.exprs) for (const n of metricNames(e)) named.set(n, d.file);
    for (const n of metricNames(fs.readFileSync(RULES, 'utf8'))) named.set(n, 'sluice-alerts.yml');
    assert.ok(named.size >= 40, `the dashboards cover sluice's metrics (${named.size} names)`);
    const missing = [...named].filter(([n]) => !exported.has(n)).map(([n, f]) => `${n} (${f})`);
    assert.deepEqual(missing, [], 'names no running sluice exports');
  } finally {
    assert.equal((await stopSluice(k)).code, 0, k.stderr);
    await mock.stop();
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(kdir, { recursive: true, force: true });
  }
});

test('a real Prometheus scrapes sluice: up == 1, the ingest counter, rules and dashboard queries', { timeout: 120000 * SLOW }, async () => {
  const dir = tmpdir();
  const s = await startFull(dir);
  const port = await freePort();
  const prom = `http://127.0.0.1:${port}`;
  const target = new URL(s.admin).host;
  const pcfg = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(pcfg, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${RULES}
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['${target}']
`);
  const proc = spawn('prometheus', [`--config.file=${pcfg}`, `--web.listen-address=127.0.0.1:${port}`,
    `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perr = '';
  proc.stderr.on('data', (d) => (perr += d));
  let exited = false;
  const exit = new Promise((resolve) => proc.on('exit', () => { exited = true; resolve(); }));
  const query = async (q) => {
    if (exited) throw new Error(`prometheus exited: ${perr}`);
    const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
    const j = await r.json();
    if (j.status !== 'success') throw new Error(`${q}: ${j.error}`);
    return j.data.result;
  };
  try {
    // Send a known number of events (some rejected: the error ratio moves too).
    let sent = 0;
    for (let b = 0; b < 10; b++) {
      const batch = [];
      for (let i = 0; i < 37; i++)
        batch.push({ timestamp: new Date().toISOString(), level: 'INFO', service: `svc${i % 5}`, message: `m${b}-${i}` });
      batch.push({ timestamp: new Date().toISOString(), level: 3, service: 'x', message: 'bad' });
      const r = await post(s.collector + '/api/collect', JSON.stringify(batch));
      assert.equal(r.json.accepted, 37, r.text);
      sent += 37;
    }
    const up = await until('Prometheus to scrape sluice (up == 1)', async () => {
      const r = await query('up{job="sluice"}');
      return r.length === 1 && r[0].value[1] === '1' && r[0];
    }, 30000);
    assert.equal(up.metric.instance, target);
    await until(`Prometheus to read ${sent} accepted events`, async () => {
      const r = await query('sum(sluice_collector_events_accepted_total{job="sluice",topic="logs.raw"})');
      return r.length === 1 && Number(r[0].value[1]) === sent;
    }, 20000);
    const rejected = await query('sum(sluice_collector_events_rejected_total{job="sluice",topic="logs.raw"})');
    assert.equal(Number(rejected[0].value[1]), 10);
    // The dashboard's own reading of /metrics (web/src/prom.js) agrees with
    // Prometheus: counters, and histogram_quantile over the same buckets.
    const promjs = await import(path.join(ROOT, 'web/src/prom.js'));
    const mine = promjs.parseMetrics(await metrics(s));
    assert.equal(promjs.sumBy(mine, 'sluice_collector_events_accepted_total', ['topic']).get('logs.raw'), sent);
    const requests = promjs.total(mine, 'sluice_collector_requests_total');
    await until('Prometheus to scrape the last requests', async () =>
      Number((await query('sum(sluice_collector_requests_total{job="sluice"})'))[0].value[1]) === requests, 20000);
    const buckets = promjs.buckets(mine, 'sluice_collector_request_seconds').get('');
    for (const q of [0.5, 0.9, 0.99]) {
      const theirs = Number((await query(`histogram_quantile(${q}, sum by (le) (sluice_collector_request_seconds_bucket{job="sluice"}))`))[0].value[1]);
      assert.ok(Math.abs(promjs.quantile(q, buckets) - theirs) < 1e-12, `p${q * 100}: ${promjs.quantile(q, buckets)} vs Prometheus ${theirs}`);
    }
    // The rules load and evaluate.
    await until('the rules to be evaluated', async () => {
      const j = await (await fetch(`${prom}/api/v1/rules`)).json();
      const rules = j.data.groups.flatMap((g) => g.rules);
      return rules.length === 7 && rules.every((r) => r.health === 'ok' && r.lastEvaluation && !r.lastEvaluation.startsWith('0001'));
    }, 20000);
    // Every dashboard query is valid PromQL, and the ones about the log and
    // the stages have data.
    for (const d of dashboards())
      for (const e of d.exprs) await query(concrete(e)).catch((err) => assert.fail(`${d.file}: ${err.message}`));
    await until('a rate over two scrapes', async () =>
      (await query(concrete('sum(rate(sluice_log_appended_records_total{instance=~"$instance"}[1m]))'))).length === 1, 20000);
    const stages = await query('sluice_stage_up');
    assert.deepEqual(stages.map((x) => x.metric.stage).sort(), ['lake', 'redis', 'scenario', 'stdout', 'tail']);
  } finally {
    proc.kill('SIGTERM');
    await exit;
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
