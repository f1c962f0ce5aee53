// dashboard.test.mjs - the live dashboard in a real browser (Debian's
// Chromium driven by playwright-core), on a pipeline fed by `sluice gen web`
// through the tracking pixel: log in with the admin token, import members
// and create a scenario in the editor (a validation error shown beside its
// field first), watch both scenarios' charts update, and check that every
// number shown equals GET /api/stats/scenarios; the Pipeline and Lake views
// show what /api/topics and /api/lake say. The page may reach nothing but
// the admin listener. Screenshots at 1280x800 and at phone width go to
// build/test-artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  ROOT, SANITIZED, SLOW, tmpdir, writeConfig, startSluice, stopSluice, background, post, until,
} from './lib.mjs';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'build/test-artifacts');
const TAG = SANITIZED ? 'asan-' : '';
const MEMBERS = 60;

async function launch(profile) {
  const { chromium } = await import('playwright-core');
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}

// Members 100000.. as `sluice gen web --members N` names them, with ages and
// genders chosen here.
function membersCsv(file) {
  const lines = ['member_id,age,gender'];
  for (let i = 0; i < MEMBERS; i++) lines.push(`${100000 + i},${15 + ((i * 7) % 40)},${i % 3 ? 'MALE' : 'FEMALE'}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

async function gen(s, scenarios, count) {
  const g = background(['gen', 'web', '--scenarios', scenarios, '--members', String(MEMBERS),
    '--rate', String(Math.round(400 / SLOW)), '--count', String(count), '--seed', String(count),
    '--to', s.collector, '--no-progress']);
  const r = await g.done;
  assert.equal(r.code, 0, `gen web: ${g.stderr}`);
}

// Stats that stopped changing: the same answer twice, 3.5 s apart (longer
// than the processor's idle close of a window plus its flush interval).
async function stableStats(api) {
  let last = '';
  return until('scenario statistics to settle', async () => {
    const r = await api('/api/stats/scenarios?history=60');
    const text = JSON.stringify(r.scenarios);
    const same = text === last;
    last = text;
    if (!same) await new Promise((res) => setTimeout(res, 3500));
    return same && r;
  }, 60000);
}

// What the Scenarios view shows, card by card, chart data included.
function readCards(page) {
  return page.evaluate(() => [...document.querySelectorAll('article.scenario')].map((card) => {
    // eslint-disable-next-line no-undef
    const chart = echarts.getInstanceByDom(card.querySelector('.chart'));
    const opt = chart.getOption();
    const data = (name) => opt.series.find((x) => x.name === name).data;
    return {
      sid: Number(card.dataset.sid),
      title: card.querySelector('[data-field=title]').textContent,
      ratio: card.querySelector('[data-field=success_ratio]').textContent,
      success: card.querySelector('[data-field=success_count]').textContent,
      total: card.querySelector('[data-field=total_count]').textContent,
      xs: opt.xAxis[0].data,
      totals: data('total'),
      successes: data('success'),
      ratios: data('success ratio'),
    };
  }));
}

// The same numbers, computed from an API answer.
function expectedCards(stats) {
  return stats.scenarios.map((x) => ({
    sid: x.scenario_id,
    title: x.title,
    ratio: String(x.latest.success_ratio),
    success: String(x.latest.success_count),
    total: String(x.latest.total_count),
    xs: x.history.map((w) => w.window_start.slice(11, 19)),
    totals: x.history.map((w) => w.total_count),
    successes: x.history.map((w) => w.success_count),
    ratios: x.history.map((w) => w.success_ratio),
  }));
}

test('the dashboard shows the API\'s numbers, live, and edits scenarios', { timeout: 240000 * SLOW }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), 'Debian chromium (scripts/deps.sh installs it)');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = tmpdir();
  const token = 'dash-' + Math.random().toString(36).slice(2);
  const cfg = writeConfig(dir, `  token: "${token}"
topics:
  logs.raw: { partitions: 3, key: service, require: { level: string, service: string, message: string } }
  events.activity: { partitions: 1, key: user_id }
  web.raw: { partitions: 3, key: memberId }
  scenario.results: { partitions: 3, key: scenario_id }
  scenario.stats: { partitions: 3, key: scenario_id, timestamp: window_start }
processors:
  - { type: scenario, from: web.raw, to: scenario.results, stats_topic: scenario.stats }
outputs:
  - { type: lake, from: [logs.raw], flush_interval: 500ms }
`);
  const csv = path.join(dir, 'members.csv');
  membersCsv(csv);
  const s = await startSluice(cfg);
  const auth = { Authorization: `Bearer ${token}` };
  const api = async (p) => {
    const r = await fetch(s.admin + p, { headers: auth });
    assert.equal(r.status, 200, p);
    return r.json();
  };
  const browser = await launch(path.join(dir, 'chromium-profile'));
  const problems = [];
  try {
    // Seed 001's scenario 5, created through the API.
    const seed5 = {
      scenario_id: 5, title: 'Adult men after 9', manager: 'admin_user',
      log_format: { e_c: 0, e_a: 0, memberId: 1, h: 1, res: 0 },
      filters: [{ left: 'age', operator: '>', right: '20' }, { left: 'gender', operator: '==', right: 'MALE' },
        { left: 'h', operator: '>=', right: '9' }],
      logical_operator: 'AND',
    };
    assert.equal((await post(s.admin + '/api/scenarios', JSON.stringify(seed5), auth)).status, 201);

    const page = browser.pages()[0] || (await browser.newPage());
    // Nothing but the admin listener: the page must work with no network.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(s.admin + '/')) return route.continue();
      problems.push(`request outside the admin listener: ${url}`);
      return route.abort();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('response', (r) => {
      if (r.status() >= 500) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    // The browser logs every 4xx (the refused login, the refused scenario):
    // those are expected; any other console error is not.
    page.on('console', (m) => {
      if (m.type() === 'error' && !/^Failed to load resource: the server responded with a status of 40[01]/.test(m.text()))
        problems.push(`console error: ${m.text()}`);
    });

    // ---- log in -----------------------------------------------------------
    await page.goto(s.admin + '/');
    assert.equal(new URL(page.url()).pathname, '/login');
    await page.fill('input[name=token]', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('.login-error');
    await page.fill('input[name=token]', token);
    await Promise.all([page.waitForURL(s.admin + '/'), page.click('button[type=submit]')]);
    await page.waitForSelector('#view-scenarios:not([hidden])');
    await page.waitForSelector('form.logout:not([hidden])');

    // ---- members import in the editor --------------------------------------
    await page.goto(s.admin + '/#/editor');
    await page.waitForSelector('#ed-list tbody tr[data-sid="5"]');
    await page.setInputFiles('#mb-file', csv);
    await page.click('#mb-form button[type=submit]');
    await page.waitForFunction((n) => document.querySelector('#mb-result').textContent === `Imported ${n} members.`, MEMBERS);
    assert.equal((await api('/api/members?limit=1')).total, MEMBERS);

    // ---- traffic for scenario 5; its card updates --------------------------
    await gen(s, '5', 600);
    await page.goto(s.admin + '/#/scenarios');
    await page.waitForSelector('article.scenario[data-sid="5"][data-has-data="1"]', { timeout: 30000 * SLOW });

    // ---- a new scenario in the editor: an error beside its field first ---
    await page.goto(s.admin + '/#/editor');
    await page.click('#ed-new');
    await page.fill('input[name=scenario_id]', '77');
    await page.fill('input[name=title]', 'Evening visitors');
    await page.fill('input[name=manager]', 'dashboard-test');
    // The first filter row is there, its left side empty: the API refuses it.
    await page.selectOption('#ed-filters .filter select[name=operator]', '>=');
    await page.fill('#ed-filters .filter input[name=right]', '12');
    await page.click('#ed-add-field');
    await page.fill('#ed-fields .field input[name=field]', 'h');
    await page.click('#ed-save');
    await page.waitForFunction(() => document.querySelector('#view-editor').dataset.saveStatus === '400');
    const leftError = await page.textContent('#ed-filters .filter .field-error');
    assert.match(leftError, /name a field|missing|must/i, 'the error is shown beside the filter');
    assert.ok(await page.$('#ed-filters .filter input[name=left].invalid'), 'the bad input is marked');
    await page.fill('#ed-filters .filter input[name=left]', 'h');
    await page.click('#ed-save');
    await page.waitForSelector('#ed-list tbody tr[data-sid="77"]');
    assert.equal(await page.textContent('#ed-saved'), 'Scenario 77 created.');
    const created = await api('/api/scenarios/77');
    assert.deepEqual(created.filters, [{ left: 'h', operator: '>=', right: '12' }]);
    assert.deepEqual(created.log_format, { h: 1 });
    assert.equal(created.title, 'Evening visitors');
    // Edit it: the form loads the stored scenario, a PUT replaces it.
    await page.click('#ed-list tbody tr[data-sid="77"] button:has-text("Edit")');
    await page.waitForFunction(() => document.querySelector('#ed-form-title').textContent === 'Edit scenario 77');
    assert.equal(await page.inputValue('#ed-filters .filter input[name=left]'), 'h');
    await page.fill('#ed-filters .filter input[name=right]', '13');
    await page.click('#ed-save');
    await page.waitForFunction(() => document.querySelector('#ed-saved').textContent === 'Scenario 77 saved (version 2).');
    const edited = await api('/api/scenarios/77');
    assert.equal(edited.version, 2);
    assert.deepEqual(edited.filters, [{ left: 'h', operator: '>=', right: '13' }]);
    assert.equal(edited.title, 'Evening visitors', 'fields not touched are kept');
    await page.screenshot({ path: path.join(ARTIFACTS, `${TAG}dashboard-editor-1280.png`), fullPage: true });

    // ---- traffic for both; the charts equal the API ------------------------
    await gen(s, '5,77', 800);
    await page.goto(s.admin + '/#/scenarios');
    await page.waitForSelector('article.scenario[data-sid="77"][data-has-data="1"]', { timeout: 30000 * SLOW });
    await stableStats(api);
    // The page polls every 5 s: after its next two refreshes it must show
    // exactly what the API answers.
    let stats;
    let shown;
    for (let attempt = 0; attempt < 4; attempt++) {
      const updates = Number(await page.getAttribute('#view-scenarios', 'data-updates'));
      await page.waitForFunction((n) => Number(document.querySelector('#view-scenarios').dataset.updates) >= n + 2,
        updates, { timeout: 20000 * SLOW });
      shown = await readCards(page);
      stats = await api('/api/stats/scenarios?history=60');
      if (JSON.stringify(shown) === JSON.stringify(expectedCards(stats))) break;
    }
    assert.deepEqual(shown, expectedCards(stats), 'the cards and charts show what /api/stats/scenarios says');
    assert.deepEqual(shown.map((c) => c.sid), [5, 77]);
    let events = 0;
    for (const x of stats.scenarios) events += x.history.reduce((a, w) => a + w.total_count, 0);
    assert.equal(events, 600 + 800, 'every generated event is in a window');
    const s77 = stats.scenarios.find((x) => x.scenario_id === 77);
    assert.ok(s77.history.some((x) => x.success_count > 0) && s77.history.some((x) => x.success_count < x.total_count),
      'the new scenario produces ratios');
    await page.screenshot({ path: path.join(ARTIFACTS, `${TAG}dashboard-scenarios-1280.png`), fullPage: true });

    // ---- pipeline ----------------------------------------------------------
    const logs = [];
    for (let i = 0; i < 50; i++)
      logs.push({ timestamp: new Date().toISOString(), level: 'INFO', service: `s${i % 4}`, message: `m${i}` });
    logs.push({ level: 7, service: 'x', message: 'bad level', timestamp: new Date().toISOString() });
    const ingest = await post(s.collector + '/api/collect', JSON.stringify(logs));
    assert.equal(ingest.json.accepted, 50, ingest.text);
    await page.goto(s.admin + '/#/pipeline');
    await page.waitForFunction(() => Number(document.querySelector('#view-pipeline').dataset.updates) >= 2, null, { timeout: 20000 * SLOW });
    await until('the pipeline view to show the log', async () => {
      const topics = (await api('/api/topics')).topics;
      const rows = await page.$$eval('#pl-topics tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.topic, Number(tr.dataset.records)])));
      for (const t of topics)
        if (rows[t.name] !== t.partitions.reduce((a, p) => a + p.end - p.start, 0)) return false;
      return true;
    }, 20000);
    const states = await page.$$eval('#pl-stages tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.stage, tr.dataset.state])));
    assert.deepEqual(states, { scenario: 'up', lake: 'up' });
    await page.waitForSelector('#pl-rejects tbody tr[data-reason="wrong_type"]');
    assert.equal(await page.textContent('[data-tile="stages"]'), '2 / 2');
    await page.screenshot({ path: path.join(ARTIFACTS, `${TAG}dashboard-pipeline-1280.png`), fullPage: true });

    // ---- lake ----------------------------------------------------------------
    const lake = await until('the lake to hold the 50 rows', async () => {
      const l = await api('/api/lake');
      const t = l.lakes[0] && l.lakes[0].topics.find((x) => x.topic === 'logs.raw');
      return t && t.rows === 50 && t;
    }, 30000);
    await page.goto(s.admin + '/#/lake');
    const hour = lake.hours[lake.hours.length - 1];
    await page.waitForSelector(`.lake-topic[data-topic="logs.raw"] tr[data-hour="${hour.hour}"]`);
    assert.equal(await page.textContent(`.lake-topic[data-topic="logs.raw"] tr[data-hour="${hour.hour}"] [data-field=rows]`), String(hour.rows));
    await page.screenshot({ path: path.join(ARTIFACTS, `${TAG}dashboard-lake-1280.png`), fullPage: true });

    // ---- phone width: one column, nothing wider than the screen ------------
    await page.setViewportSize({ width: 390, height: 844 });
    for (const view of ['scenarios', 'pipeline', 'editor', 'lake']) {
      await page.goto(`${s.admin}/#/${view}`);
      await page.waitForFunction((v) => document.body.dataset.view === v && Number(document.body.dataset.ticks || 0) >= 1, view);
      if (view === 'scenarios') await page.waitForSelector('article.scenario[data-sid="77"][data-has-data="1"]');
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 1, `${view} fits a 390 px screen (overflow ${overflow} px)`);
      await page.screenshot({ path: path.join(ARTIFACTS, `${TAG}dashboard-${view}-phone.png`), fullPage: true });
    }
    const width = await page.$eval('article.scenario', (el) => el.getBoundingClientRect().width).catch(() => null);
    if (width !== null) assert.ok(width <= 390, 'cards fit the screen');

    assert.deepEqual(problems, [], 'no page errors, console errors or outside requests');
  } finally {
    await browser.close();
    assert.equal((await stopSluice(s)).code, 0, s.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
