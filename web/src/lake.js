// lake.js - the Lake view: for each lake output and topic, the finished
// files, rows and bytes per hour partition (GET /api/lake), as a table and
// a bar chart of rows per hour.
import { h, api, apiError, showError, makeChart, disposeChart, baseOption, fmtInt, fmtBytes } from './util.js';

export function createLakeView(root) {
  const body = root.querySelector('#lk-body');
  const empty = root.querySelector('#lk-empty');
  const error = root.querySelector('#lk-error');
  let charts = [];
  let updates = 0;

  function topicCard(lake, t) {
    const chartEl = h('div', { class: 'chart' });
    const rows = t.hours
      .slice()
      .reverse()
      .map((x) =>
        h('tr', { dataset: { hour: x.hour } },
          h('td', {}, h('code', {}, `year=${x.year}/month=${x.month}/day=${x.day}/hour=${x.h}`)),
          h('td', { class: 'num', dataset: { field: 'files' } }, fmtInt(x.files)),
          h('td', { class: 'num', dataset: { field: 'rows' } }, fmtInt(x.rows)),
          h('td', { class: 'num' }, fmtBytes(x.bytes))));
    const el = h('article', { class: 'card lake-topic', dataset: { lake: lake.output, topic: t.topic } },
      h('div', { class: 'card-head' },
        h('h2', {}, t.topic),
        h('span', { class: 'muted small' },
          `${fmtInt(t.files)} files · ${fmtInt(t.rows)} rows · ${fmtBytes(t.bytes)}${t.writing ? ` · ${t.writing} being written` : ''}`)),
      chartEl,
      h('div', { class: 'table-wrap' },
        h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, 'hour partition'), h('th', { class: 'num' }, 'files'), h('th', { class: 'num' }, 'rows'), h('th', { class: 'num' }, 'bytes'))),
          h('tbody', {}, rows.length ? rows : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No finished files yet.'))]))));
    return { el, chartEl, t };
  }

  async function refresh() {
    const r = await api('/api/lake');
    if (!r.ok || !r.json) {
      showError(error, apiError(r));
      return false;
    }
    showError(error, '');
    for (const c of charts) disposeChart(c);
    charts = [];
    const lakes = r.json.lakes || [];
    const parts = [];
    const cards = [];
    for (const lake of lakes) {
      parts.push(h('div', { class: 'view-head' },
        h('h2', {}, `${lake.output} `, h('span', { class: 'muted small' }, h('code', {}, lake.path)))));
      if (lake.error) parts.push(h('p', { class: 'error-box' }, `cannot read ${lake.path}: ${lake.error}`));
      if (!lake.topics.length && !lake.error) parts.push(h('p', { class: 'empty' }, 'Nothing written yet.'));
      const grid = h('div', { class: 'grid wide' });
      for (const t of lake.topics) {
        const c = topicCard(lake, t);
        cards.push(c);
        grid.append(c.el);
      }
      parts.push(grid);
    }
    body.replaceChildren(...parts);
    empty.hidden = lakes.length > 0;
    for (const c of cards) {
      const chart = makeChart(c.chartEl);
      if (!chart) continue;
      charts.push(chart);
      const opt = baseOption();
      opt.legend = { show: false };
      opt.xAxis = { type: 'category', data: c.t.hours.map((x) => `${x.hour.slice(5, 10)} ${x.hour.slice(11)}h`), axisLabel: { fontSize: 10 } };
      opt.yAxis = { type: 'value', name: 'rows', nameTextStyle: { fontSize: 10 }, axisLabel: { fontSize: 10 } };
      opt.series = [{ name: 'rows', type: 'bar', data: c.t.hours.map((x) => x.rows), barMaxWidth: 28 }];
      chart.setOption(opt, { notMerge: true });
    }
    updates++;
    root.dataset.updates = String(updates);
    return true;
  }

  return { refresh, show() {} };
}
