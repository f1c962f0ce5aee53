// scenarios.js - the Scenarios view: a card per scenario with the latest
// 5-second window's success ratio, success and total counts, and a chart of
// the recent windows, all exactly as GET /api/stats/scenarios gives them.
//
// Each card carries data-sid, and each figure data-field, so a reader (or
// the browser test) can match what is shown to the API, number for number.
import { h, api, apiError, showError, makeChart, disposeChart, baseOption, hms, fmtInt } from './util.js';

const HISTORY = 60; // windows per chart: five minutes

export function createScenariosView(root) {
  const grid = root.querySelector('#sc-grid');
  const empty = root.querySelector('#sc-empty');
  const error = root.querySelector('#sc-error');
  const cards = new Map(); // scenario_id -> {el, chart, figures}
  let updates = 0;

  function card(s) {
    const sid = String(s.scenario_id);
    let c = cards.get(sid);
    if (c) return c;
    const figures = {
      success_ratio: h('span', { class: 'value', dataset: { field: 'success_ratio' } }, '–'),
      success_count: h('span', { class: 'value', dataset: { field: 'success_count' } }, '–'),
      total_count: h('span', { class: 'value', dataset: { field: 'total_count' } }, '–'),
    };
    const title = h('span', { class: 'title', dataset: { field: 'title' } });
    const windowText = h('div', { class: 'window muted', dataset: { field: 'window' } });
    const bar = h('span');
    const chartEl = h('div', { class: 'chart' });
    const el = h(
      'article',
      { class: 'card scenario', dataset: { sid } },
      h('header', {}, h('h3', {}, h('span', { class: 'sid' }, `#${sid}`), title), h('span', { class: 'badge' }, '5 s windows')),
      h(
        'div',
        { class: 'figures' },
        h('div', {}, h('span', { class: 'label' }, 'success ratio'), figures.success_ratio),
        h('div', {}, h('span', { class: 'label' }, 'success'), figures.success_count),
        h('div', {}, h('span', { class: 'label' }, 'total'), figures.total_count),
      ),
      h('div', { class: 'ratio-bar' }, bar),
      windowText,
      chartEl,
    );
    c = { el, chartEl, chart: null, figures, title, windowText, bar };
    cards.set(sid, c);
    return c;
  }

  function render(s) {
    const c = card(s);
    c.title.textContent = s.title || '(deleted scenario)';
    const w = s.latest;
    c.el.dataset.hasData = w ? '1' : '0';
    c.figures.success_ratio.textContent = w ? String(w.success_ratio) : '–';
    c.figures.success_count.textContent = w ? String(w.success_count) : '–';
    c.figures.total_count.textContent = w ? String(w.total_count) : '–';
    c.bar.style.width = w ? `${Math.max(0, Math.min(1, Number(w.success_ratio))) * 100}%` : '0';
    c.windowText.textContent = w
      ? `window ${hms(w.window_start)}–${hms(w.window_end)} UTC · written ${w.written_at}`
      : 'no events in a window yet';
    if (!c.chart && c.chartEl.isConnected) c.chart = makeChart(c.chartEl);
    if (!c.chart) return;
    const hist = s.history || [];
    const opt = baseOption();
    opt.grid = { left: 44, right: 44, top: 48, bottom: 26 };
    opt.legend.data = ['total', 'success', 'success ratio'];
    opt.xAxis = { type: 'category', data: hist.map((x) => hms(x.window_start)), axisLabel: { fontSize: 10 } };
    opt.yAxis = [
      { type: 'value', name: 'events', minInterval: 1, nameTextStyle: { fontSize: 10 }, axisLabel: { fontSize: 10 } },
      { type: 'value', name: 'ratio', min: 0, max: 1, nameTextStyle: { fontSize: 10 }, axisLabel: { fontSize: 10 }, splitLine: { show: false } },
    ];
    opt.series = [
      { name: 'total', type: 'bar', data: hist.map((x) => x.total_count), itemStyle: { color: '#c9d4e2' }, barMaxWidth: 18 },
      { name: 'success', type: 'bar', data: hist.map((x) => x.success_count), itemStyle: { color: '#4caf7a' }, barGap: '-100%', barMaxWidth: 18 },
      {
        name: 'success ratio', type: 'line', yAxisIndex: 1, data: hist.map((x) => x.success_ratio),
        itemStyle: { color: '#1f5fa8' }, lineStyle: { width: 2 }, symbolSize: 4, showSymbol: hist.length < 30,
      },
    ];
    c.chart.setOption(opt, { notMerge: true });
  }

  async function refresh() {
    const r = await api(`/api/stats/scenarios?history=${HISTORY}`);
    if (!r.ok || !r.json) {
      showError(error, r.status === 404 ? 'This sluice has no scenario statistics (the catalogue API is not running).' : apiError(r));
      return false;
    }
    showError(error, '');
    const list = r.json.scenarios || [];
    const seen = new Set(list.map((s) => String(s.scenario_id)));
    for (const [sid, c] of cards) {
      if (!seen.has(sid)) {
        disposeChart(c.chart);
        c.el.remove();
        cards.delete(sid);
      }
    }
    // Cards in id order; charts need their element in the page before init.
    const order = list.map((s) => card(s).el);
    const current = [...grid.children];
    if (current.length !== order.length || order.some((el, i) => current[i] !== el)) grid.replaceChildren(...order);
    for (const s of list) render(s);
    empty.hidden = list.length > 0;
    updates++;
    root.dataset.updates = String(updates);
    root.dataset.scenarios = String(list.length);
    root.dataset.events = fmtInt(list.reduce((a, s) => a + (s.latest ? s.latest.total_count : 0), 0));
    return true;
  }

  return {
    refresh,
    show() {
      for (const c of cards.values()) if (c.chart) c.chart.resize();
    },
  };
}
