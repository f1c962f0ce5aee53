// prom.js - read sluice's /metrics (Prometheus text format 0.0.4) in the
// browser: samples by name, sums by label, rates between two scrapes and
// histogram quantiles the way Prometheus' histogram_quantile computes them.

// Parse the exposition text into Map(name -> [{labels, value}]).
export function parseMetrics(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line[0] === '#') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      let kv;
      while ((kv = re.exec(m[3])) !== null)
        labels[kv[1]] = kv[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    }
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : Number(m[4]);
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels, value });
  }
  return out;
}

export function series(metrics, name) {
  return metrics.get(name) || [];
}

// Sum of a metric's samples grouped by the given label names -> Map(key -> value),
// key = the label values joined by '\u0000'.
export function sumBy(metrics, name, by = []) {
  const out = new Map();
  for (const s of series(metrics, name)) {
    const key = by.map((l) => s.labels[l] ?? '').join('\u0000');
    out.set(key, (out.get(key) || 0) + s.value);
  }
  return out;
}

export function total(metrics, name) {
  let t = 0;
  for (const s of series(metrics, name)) t += s.value;
  return t;
}

// Per-second rate of each key of two sumBy maps taken dt seconds apart. A
// counter that went down (a restart) counts from zero, like rate().
export function rates(before, after, dt) {
  const out = new Map();
  if (!before || !(dt > 0)) return out;
  for (const [k, v] of after) {
    const b = before.get(k) ?? 0;
    out.set(k, (v >= b ? v - b : v) / dt);
  }
  return out;
}

// Histogram buckets of `name` grouped by labels (without le):
// Map(key -> [{le, count}] sorted by le), cumulative as exposed.
export function buckets(metrics, name, by = []) {
  const out = new Map();
  for (const s of series(metrics, name + '_bucket')) {
    const key = by.map((l) => s.labels[l] ?? '').join('\u0000');
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    if (!out.has(key)) out.set(key, new Map());
    const m = out.get(key);
    m.set(le, (m.get(le) || 0) + s.value);
  }
  const sorted = new Map();
  for (const [k, m] of out)
    sorted.set(k, [...m.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count })));
  return sorted;
}

// The difference of two cumulative bucket lists (what was observed between
// two scrapes); the newer list alone when there is no older one.
export function bucketDelta(before, after) {
  if (!before) return after;
  const old = new Map(before.map((b) => [b.le, b.count]));
  const d = after.map((b) => ({ le: b.le, count: b.count - (old.get(b.le) || 0) }));
  return d.some((b) => b.count < 0) ? after : d;
}

// histogram_quantile(q, buckets): linear interpolation inside the bucket
// that holds the q-th observation; null when there are no observations.
export function quantile(q, list) {
  if (!list || !list.length) return null;
  const n = list[list.length - 1].count;
  if (!(n > 0)) return null;
  const rank = q * n;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of list) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe; // above the highest bound: its lower edge
      const inBucket = b.count - prevCount;
      if (inBucket <= 0) return b.le;
      return prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
