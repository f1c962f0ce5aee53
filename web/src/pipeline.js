// pipeline.js - the Pipeline view: events in per topic (records appended
// to the log), events out per consumer group (committed offsets moving),
// consumer lag, append and fsync latency, rejected events by reason, and
// the state of every stage. Everything comes from two reads every 5 s:
// /metrics (parsed here) and /api/topics; rates and latency quantiles are
// the difference between consecutive reads.
import { h, api, apiError, showError, fillRows, makeChart, baseOption, fmtInt, fmtRate, fmtMs, clockNow } from './util.js';
import { parseMetrics, sumBy, rates, buckets, bucketDelta, quantile, series } from './prom.js';

const KEEP = 120; // points per chart: ten minutes at 5 s

// A set of time series that grow together; a series that appears late is
// padded with nulls so every series lines up with the time axis.
class History {
  constructor() {
    this.t = [];
    this.series = new Map();
  }
  push(label, values) {
    this.t.push(label);
    for (const [name, v] of values) {
      if (!this.series.has(name)) this.series.set(name, new Array(this.t.length - 1).fill(null));
      this.series.get(name).push(v);
    }
    for (const arr of this.series.values()) if (arr.length < this.t.length) arr.push(null);
    if (this.t.length > KEEP) {
      this.t.shift();
      for (const arr of this.series.values()) arr.shift();
    }
  }
  option() {
    const opt = baseOption();
    opt.xAxis = { type: 'category', data: this.t, axisLabel: { fontSize: 10 }, boundaryGap: false };
    opt.yAxis = { type: 'value', axisLabel: { fontSize: 10 }, min: 0 };
    opt.series = [...this.series.entries()].map(([name, data]) => ({
      name, type: 'line', data, showSymbol: false, connectNulls: false, lineStyle: { width: 2 },
    }));
    return opt;
  }
}

// Families that count what went to _dlq: [metric, label naming where, kind, reason when unlabelled].
const REJECTS = [
  ['sluice_collector_events_rejected_total', 'topic', 'collector', ''],
  ['sluice_collector_requests_rejected_total', '', 'request', ''],
  ['sluice_tail_rejected_total', 'input', 'tail', ''],
  ['sluice_scenario_events_rejected_total', 'stage', 'scenario', ''],
  ['sluice_lake_records_rejected_total', 'topic', 'lake', 'unplaceable'],
  ['sluice_redis_invalid_records_total', 'output', 'redis', 'invalid_record'],
];

function splitKey(k) {
  return k.split('\u0000');
}

export function createPipelineView(root) {
  const error = root.querySelector('#pl-error');
  const charts = {};
  const hist = { in: new History(), out: new History(), lag: new History(), latency: new History() };
  let prev = null; // {time, inBy, committed: Map, append: Map, fsync: Map}
  let updates = 0;
  let last = null; // what the tables show, kept for a redraw on show()

  function tile(name, text) {
    const el = root.querySelector(`[data-tile="${name}"]`);
    if (el) el.textContent = text;
  }

  function chart(id) {
    if (!charts[id]) {
      const el = root.querySelector(`#${id}`);
      if (el && el.clientWidth) charts[id] = makeChart(el);
    }
    return charts[id];
  }

  function draw() {
    const pairs = [
      ['pl-chart-in', hist.in],
      ['pl-chart-out', hist.out],
      ['pl-chart-lag', hist.lag],
      ['pl-chart-latency', hist.latency],
    ];
    for (const [id, hh] of pairs) {
      const c = chart(id);
      if (c) c.setOption(hh.option(), { notMerge: true });
    }
  }

  async function sample() {
    const [mr, tr] = await Promise.all([api('/metrics'), api('/api/topics')]);
    if (!mr.ok || !tr.ok || !tr.json) {
      showError(error, `cannot read ${!mr.ok ? '/metrics' : '/api/topics'}: ${apiError(!mr.ok ? mr : tr)}`);
      return false;
    }
    showError(error, '');
    const now = performance.now() / 1000;
    const m = parseMetrics(mr.text);
    const topics = tr.json.topics || [];

    // In: records appended per topic (every input and processor appends).
    const inBy = sumBy(m, 'sluice_log_appended_records_total', ['topic']);
    // Out: committed offsets per group and topic; lag as /api/topics computes it.
    const committed = new Map();
    const lagByGroup = new Map();
    const groupRows = [];
    for (const t of topics) {
      for (const g of t.groups || []) {
        const sum = (g.partitions || []).reduce((a, p) => a + (p.committed ?? 0), 0);
        committed.set(`${g.group}\u0000${t.name}`, sum);
        lagByGroup.set(g.group, (lagByGroup.get(g.group) || 0) + g.lag);
        groupRows.push({ group: g.group, topic: t.name, lag: g.lag });
      }
    }
    const append = buckets(m, 'sluice_log_append_seconds', ['topic']);
    const fsync = buckets(m, 'sluice_log_fsync_seconds', []).get('');

    const dt = prev ? now - prev.time : 0;
    const inRate = rates(prev && prev.inBy, inBy, dt);
    const outRate = rates(prev && prev.committed, committed, dt);
    const outByGroup = new Map();
    for (const [k, v] of outRate) {
      const [group] = splitKey(k);
      outByGroup.set(group, (outByGroup.get(group) || 0) + v);
    }
    const appendQ = new Map();
    for (const [topic, list] of append) {
      const d = bucketDelta(prev && prev.append.get(topic), list);
      appendQ.set(topic, { p50: quantile(0.5, d), p99: quantile(0.99, d) });
    }
    const fsyncD = fsync ? bucketDelta(prev && prev.fsync, fsync) : null;
    const fsyncQ = { p50: quantile(0.5, fsyncD), p99: quantile(0.99, fsyncD) };

    if (prev) {
      const label = clockNow();
      hist.in.push(label, [...inRate].map(([k, v]) => [k, +v.toFixed(3)]));
      hist.out.push(label, [...outByGroup].map(([k, v]) => [k, +v.toFixed(3)]));
      hist.lag.push(label, [...lagByGroup]);
      const lat = [...appendQ].map(([k, q]) => [`append ${k}`, q.p99 === null ? null : +(q.p99 * 1000).toFixed(3)]);
      lat.push(['fsync', fsyncQ.p99 === null ? null : +(fsyncQ.p99 * 1000).toFixed(3)]);
      hist.latency.push(label, lat);
    }
    prev = { time: now, inBy, committed, append, fsync };

    // Stages: up, retrying (its store is down), restarting (failed, waiting
    // to start again) or down.
    const reachable = new Map();
    for (const [name, list] of m)
      if (/^sluice_\w+_up$/.test(name) && name !== 'sluice_stage_up')
        for (const s of list) {
          const who = s.labels.output || s.labels.stage || s.labels.input;
          if (who) reachable.set(who, s.value);
        }
    const restarts = new Map(series(m, 'sluice_stage_restarts_total').map((s) => [`${s.labels.stage}\u0000${s.labels.kind}`, s.value]));
    const stages = series(m, 'sluice_stage_up').map((s) => {
      const n = restarts.get(`${s.labels.stage}\u0000${s.labels.kind}`) || 0;
      // An output that runs but cannot reach its store (sluice_redis_up 0) is retrying.
      const store = reachable.get(s.labels.stage);
      const state = s.value >= 1 ? (store === 0 ? 'retrying' : 'up') : n > 0 ? 'restarting' : 'down';
      return { stage: s.labels.stage, kind: s.labels.kind, state, restarts: n };
    });

    // Rejected events by where and why: every stage that sends events to
    // _dlq counts them in its own family.
    const rejects = [];
    for (const [name, where, what, fixedReason] of REJECTS)
      for (const s of series(m, name))
        if (s.value > 0)
          rejects.push({ source: `${what} ${s.labels[where] || ''}`.trim(), reason: s.labels.reason || fixedReason, n: s.value, events: what !== 'request' });
    rejects.sort((a, b) => b.n - a.n || a.reason.localeCompare(b.reason));

    const dlq = topics.find((t) => t.name === '_dlq');
    const dlqRecords = dlq ? dlq.partitions.reduce((a, p) => a + (p.end - p.start), 0) : 0;

    last = { topics, inRate, appendQ, fsyncQ, groupRows, outRate, stages, rejects, dlqRecords, lagByGroup, outByGroup, havePrev: dt > 0 };
    renderTables();
    draw();
    updates++;
    root.dataset.updates = String(updates);
    return true;
  }

  function renderTables() {
    if (!last) return;
    const L = last;
    const sumMap = (mp) => [...mp.values()].reduce((a, b) => a + b, 0);
    tile('in_rate', L.havePrev ? fmtRate(sumMap(L.inRate)) : '…');
    tile('out_rate', L.havePrev ? fmtRate(sumMap(L.outByGroup)) : '…');
    tile('lag', fmtInt(sumMap(L.lagByGroup)));
    tile('rejected', fmtInt(L.rejects.filter((r) => r.events).reduce((a, r) => a + r.n, 0)));
    tile('dlq', fmtInt(L.dlqRecords));
    const up = L.stages.filter((s) => s.state === 'up').length;
    tile('stages', L.stages.length ? `${up} / ${L.stages.length}` : 'none');

    fillRows(
      root.querySelector('#pl-stages tbody'),
      L.stages.length
        ? L.stages.map((s) =>
            h('tr', { dataset: { stage: s.stage, state: s.state } },
              h('td', {}, s.stage), h('td', {}, s.kind),
              h('td', { class: `state-${s.state}` }, s.state),
              h('td', { class: 'num' }, fmtInt(s.restarts))))
        : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No inputs, processors or outputs run in this process (collector and admin only).'))],
    );
    fillRows(
      root.querySelector('#pl-topics tbody'),
      L.topics.map((t) => {
        const records = t.partitions.reduce((a, p) => a + (p.end - p.start), 0);
        const q = L.appendQ.get(t.name);
        return h('tr', { dataset: { topic: t.name, records: String(records) } },
          h('td', {}, t.name), h('td', { class: 'num' }, t.partitions.length),
          h('td', { class: 'num' }, fmtInt(records)),
          h('td', { class: 'num' }, L.havePrev ? fmtRate(L.inRate.get(t.name) || 0) : '…'),
          h('td', { class: 'num' }, q && q.p50 !== null ? `${fmtMs(q.p50)} / ${fmtMs(q.p99)}` : '–'));
      }),
    );
    root.querySelector('#pl-fsync').textContent =
      L.fsyncQ.p50 !== null ? `fsync over the last interval: p50 ${fmtMs(L.fsyncQ.p50)}, p99 ${fmtMs(L.fsyncQ.p99)}` : 'no fsync in the last interval';
    fillRows(
      root.querySelector('#pl-groups tbody'),
      L.groupRows.length
        ? L.groupRows.map((g) =>
            h('tr', { dataset: { group: g.group, topic: g.topic } },
              h('td', {}, g.group), h('td', {}, g.topic),
              h('td', { class: 'num' }, L.havePrev ? fmtRate(L.outRate.get(`${g.group}\u0000${g.topic}`) || 0) : '…'),
              h('td', { class: 'num', dataset: { field: 'lag' } }, fmtInt(g.lag))))
        : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No consumer group has committed yet.'))],
    );
    fillRows(
      root.querySelector('#pl-rejects tbody'),
      L.rejects.length
        ? L.rejects.map((r) =>
            h('tr', { dataset: { reason: r.reason, source: r.source } },
              h('td', {}, r.source), h('td', {}, r.reason), h('td', { class: 'num' }, fmtInt(r.n))))
        : [h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'Nothing rejected.'))],
    );
  }

  return {
    refresh: sample,
    show() {
      draw();
      for (const c of Object.values(charts)) if (c) c.resize();
    },
  };
}
