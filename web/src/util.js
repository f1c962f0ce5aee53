// util.js - what every view uses: building DOM nodes (never innerHTML with
// data: scenario titles and topic names come from users), calling the admin
// API, number formats, and ECharts instances that follow their container's
// size.

// h('td', {class: 'num'}, '12') -> <td class="num">12</td>
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replace a tbody's rows.
export function fillRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}

export function showError(el, message) {
  if (!el) return;
  el.textContent = message || '';
  el.hidden = !message;
}

// Call the admin API. Resolves to {ok, status, json, text}; a 401 sends the
// browser to the login page (the session ended or the token changed).
export async function api(path, options = {}) {
  let res;
  try {
    res = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...options });
  } catch (e) {
    setStatus(false, `cannot reach sluice (${e.message})`);
    return { ok: false, status: 0, json: null, text: '', error: e.message };
  }
  if (res.status === 401) {
    location.href = '/login';
    return { ok: false, status: 401, json: null, text: '' };
  }
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON (/metrics) */
  }
  return { ok: res.ok, status: res.status, json, text };
}

export function apiError(r) {
  if (r.json && r.json.error) return r.json.error;
  if (r.status === 0) return `cannot reach sluice: ${r.error || 'network error'}`;
  return `HTTP ${r.status}${r.text ? ': ' + r.text.slice(0, 200) : ''}`;
}

let lastOk = null;
export function setStatus(ok, text) {
  const dot = document.getElementById('status-dot');
  const label = document.getElementById('status-text');
  if (!dot || !label) return;
  dot.className = 'dot ' + (ok ? 'ok' : 'bad');
  label.textContent = text;
  lastOk = ok;
}
export function statusOk() {
  return lastOk;
}

// ---- formats ----

export function fmtInt(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRate(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (n >= 100) return Math.round(n).toLocaleString('en-US');
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function fmtMs(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '–';
  const ms = seconds * 1000;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}

// "2026-01-11T09:19:25Z" -> "09:19:25" (UTC, as the API writes times)
export function hms(iso) {
  const m = /T(\d\d:\d\d:\d\d)/.exec(iso || '');
  return m ? m[1] : String(iso || '');
}

export function clockNow() {
  return new Date().toISOString().slice(11, 19);
}

// ---- charts ----

export const PALETTE = ['#1f5fa8', '#23864f', '#d9822b', '#8e44ad', '#c0392b', '#16a2b8', '#7f8c8d', '#b8860b'];

// An ECharts instance on el that resizes with it. Animation off: the page
// redraws every 5 s and screenshots must be deterministic.
export function makeChart(el) {
  if (typeof echarts === 'undefined') {
    el.textContent = 'charts unavailable (echarts.min.js did not load)';
    return null;
  }
  // eslint-disable-next-line no-undef
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  const ro = new ResizeObserver(() => {
    if (el.clientWidth && el.clientHeight) chart.resize();
  });
  ro.observe(el);
  chart.__observer = ro;
  return chart;
}

export function disposeChart(chart) {
  if (!chart) return;
  if (chart.__observer) chart.__observer.disconnect();
  chart.dispose();
}

export function baseOption() {
  return {
    animation: false,
    color: PALETTE,
    textStyle: { fontFamily: 'system-ui, sans-serif' },
    grid: { left: 52, right: 20, top: 34, bottom: 26, containLabel: false },
    tooltip: { trigger: 'axis' },
    legend: { top: 0, type: 'scroll', textStyle: { fontSize: 11 } },
  };
}
