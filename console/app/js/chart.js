// Time-series charts drawn as SVG, no library: a line of readings (or, for rollups, a min–max
// envelope with the mean), threshold bands, the resident's personal baseline (usual range and
// median, with a legend), alert markers, time ticks in the community's zone, and a hover read-out.

import { s, h } from './dom.js';
import { t } from './i18n.js';
import { fmtTime, fmtDate, fmtWeekday, fmtDateTime, startOfDay } from './fmt.js';
import { levelLabel } from './alerting.js';

const W = 640;
const H = 200;
const M = { l: 44, r: 12, t: 14, b: 26 };
const HOUR = 3600_000;
const DAY = 86400_000;

/**
 * chart({ from, to, points: [{t, v}], buckets: [{t, min, max, mean}], bands, markers: [{t, level, label}],
 *         baseline: {low, high, median} | null, min, max, dec, label, unit }) -> element
 */
export function chart(o) {
  const { from, to } = o;
  const pts = o.points || [];
  const buckets = o.buckets || [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  for (const b of buckets) { lo = Math.min(lo, b.min); hi = Math.max(hi, b.max); }
  if (Number.isFinite(o.min) && o.min !== null) lo = Math.min(lo, o.min);
  if (Number.isFinite(o.max) && o.max !== null) hi = Math.max(hi, o.max);
  const base = o.baseline && Number.isFinite(o.baseline.low) && Number.isFinite(o.baseline.high) ? o.baseline : null;
  if (base) { lo = Math.min(lo, base.low); hi = Math.max(hi, base.high); }
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.06;
  lo -= pad;
  hi += pad;
  const x = (tm) => M.l + ((tm - from) / (to - from)) * (W - M.l - M.r);
  const y = (v) => M.t + (1 - (v - lo) / (hi - lo)) * (H - M.t - M.b);
  const clampY = (v) => Math.max(M.t, Math.min(H - M.b, y(v)));

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': o.label || '' });
  svg.append(s('title', null, o.label || ''));

  // Threshold bands.
  for (const b of o.bands || []) {
    const top = clampY(Math.min(hi, b.hi));
    const bottom = clampY(Math.max(lo, b.lo));
    if (bottom - top < 0.5) continue;
    svg.append(s('rect', { class: `band band-${b.level}`, x: M.l, y: top, width: W - M.l - M.r, height: bottom - top },
      s('title', null, `${levelLabel(b.level)} ${b.label}`)));
    const edge = Number.isFinite(b.hi) && b.hi < hi ? b.hi : b.lo;
    if (Number.isFinite(edge) && edge > lo && edge < hi) {
      svg.append(s('line', { class: `band-edge band-${b.level}`, x1: M.l, x2: W - M.r, y1: y(edge), y2: y(edge) }));
      svg.append(s('text', { class: 'band-label', x: W - M.r - 2, y: y(edge) - 3, 'text-anchor': 'end' }, b.label));
    }
  }

  // The personal baseline: the usual range the rules learnt for this resident, and its median.
  if (base) {
    const top = clampY(base.high);
    const bottom = clampY(base.low);
    const text = `${t('chart.baseline')}: ${fmtTick(base.low, o.dec)}–${fmtTick(base.high, o.dec)} ${o.unit || ''}`;
    svg.append(s('rect', { class: 'baseline-band', x: M.l, y: top, width: W - M.l - M.r, height: Math.max(1, bottom - top) }, s('title', null, text)));
    if (Number.isFinite(base.median)) {
      svg.append(s('line', { class: 'baseline-median', x1: M.l, x2: W - M.r, y1: y(base.median), y2: y(base.median) },
        s('title', null, `${t('chart.baseline_median')}: ${fmtTick(base.median, o.dec)} ${o.unit || ''}`)));
    }
  }

  // Axes: y ticks.
  const g = s('g', { class: 'axis' });
  for (const v of niceTicks(lo, hi, 4)) {
    g.append(s('line', { class: 'grid', x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }));
    g.append(s('text', { x: M.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtTick(v, o.dec)));
  }
  // x ticks, aligned to the community's local hours and days.
  for (const [tm, label] of timeTicks(from, to)) {
    g.append(s('line', { class: 'grid', x1: x(tm), x2: x(tm), y1: M.t, y2: H - M.b }));
    g.append(s('text', { x: x(tm), y: H - 8, 'text-anchor': 'middle' }, label));
  }
  svg.append(g);

  // Data.
  if (buckets.length) {
    const sorted = buckets.slice().sort((a, b) => a.t - b.t);
    const upper = sorted.map((b) => `${x(b.t).toFixed(1)},${y(b.max).toFixed(1)}`);
    const lower = sorted.slice().reverse().map((b) => `${x(b.t).toFixed(1)},${y(b.min).toFixed(1)}`);
    svg.append(s('polygon', { class: 'envelope', points: upper.concat(lower).join(' ') }));
    svg.append(s('path', { class: 'line', d: pathOf(sorted.map((b) => [b.t, b.mean]), x, y, gapOf(sorted)) }));
  } else if (pts.length) {
    const dense = pts.length > (W - M.l - M.r) * 1.5;
    if (dense) {
      // Min–max per pixel column: the shape stays true with thousands of readings.
      const cols = new Map();
      for (const p of pts) {
        const c = Math.round(x(p.t));
        const e = cols.get(c);
        if (e) { e.min = Math.min(e.min, p.v); e.max = Math.max(e.max, p.v); e.sum += p.v; e.n++; }
        else cols.set(c, { t: p.t, min: p.v, max: p.v, sum: p.v, n: 1 });
      }
      const col = [...cols.values()].sort((a, b) => a.t - b.t);
      const upper = col.map((b) => `${x(b.t).toFixed(1)},${y(b.max).toFixed(1)}`);
      const lower = col.slice().reverse().map((b) => `${x(b.t).toFixed(1)},${y(b.min).toFixed(1)}`);
      svg.append(s('polygon', { class: 'envelope', points: upper.concat(lower).join(' ') }));
      svg.append(s('path', { class: 'line', d: pathOf(col.map((b) => [b.t, b.sum / b.n]), x, y, gapOf(col)) }));
    } else {
      svg.append(s('path', { class: 'line', d: pathOf(pts.map((p) => [p.t, p.v]), x, y, gapOf(pts)) }));
      if (pts.length <= 120) for (const p of pts) svg.append(s('circle', { class: 'dot', cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.2 }));
    }
  }

  // Alerts on the timeline.
  for (const m of o.markers || []) {
    if (m.t < from || m.t > to) continue;
    const mx = x(m.t);
    const mark = s('g', { class: `marker marker-${m.level}` },
      s('line', { x1: mx, x2: mx, y1: M.t, y2: H - M.b }),
      s('path', { d: `M${mx - 5},${M.t - 2} L${mx + 5},${M.t - 2} L${mx},${M.t + 6} Z` }),
      s('title', null, `${levelLabel(m.level)}: ${m.label} · ${fmtDateTime(m.t)}`));
    svg.append(mark);
  }

  if (!pts.length && !buckets.length) {
    svg.append(s('text', { class: 'nodata', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, t('chart.nodata')));
  }

  // Hover read-out.
  const series = buckets.length ? buckets.map((b) => ({ t: b.t, v: b.mean, min: b.min, max: b.max })) : pts;
  if (series.length) {
    const dot = s('circle', { class: 'hover-dot', r: 4, visibility: 'hidden' });
    const tip = s('text', { class: 'hover-text', visibility: 'hidden' });
    svg.append(dot, tip);
    const sorted = series.slice().sort((a, b) => a.t - b.t);
    svg.addEventListener('pointermove', (e) => {
      const r = svg.getBoundingClientRect();
      const px = ((e.clientX - r.left) / r.width) * W;
      const tm = from + ((px - M.l) / (W - M.l - M.r)) * (to - from);
      let i = lowerBound(sorted, tm);
      if (i > 0 && (i >= sorted.length || Math.abs(sorted[i - 1].t - tm) < Math.abs(sorted[i].t - tm))) i--;
      const p = sorted[Math.min(i, sorted.length - 1)];
      dot.setAttribute('cx', x(p.t));
      dot.setAttribute('cy', y(p.v));
      const val = p.min !== undefined ? `${fmtTick(p.v, o.dec)} (${fmtTick(p.min, o.dec)}–${fmtTick(p.max, o.dec)})` : fmtTick(p.v, o.dec);
      tip.textContent = `${val} ${o.unit || ''} · ${fmtDateTime(p.t)}`;
      const tx = Math.min(Math.max(x(p.t), M.l + 90), W - M.r - 90);
      tip.setAttribute('x', tx);
      tip.setAttribute('y', M.t + 12);
      tip.setAttribute('text-anchor', 'middle');
      dot.setAttribute('visibility', 'visible');
      tip.setAttribute('visibility', 'visible');
    });
    svg.addEventListener('pointerleave', () => {
      dot.setAttribute('visibility', 'hidden');
      tip.setAttribute('visibility', 'hidden');
    });
  }
  const legend = base
    ? h('p.chart-legend',
      h('span.legend-item.legend-baseline', h('span.swatch.swatch-baseline', { 'aria-hidden': 'true' }),
        `${t('chart.baseline')} ${fmtTick(base.low, o.dec)}–${fmtTick(base.high, o.dec)} ${o.unit || ''}`),
      Number.isFinite(base.median)
        ? h('span.legend-item.legend-median', h('span.swatch.swatch-median', { 'aria-hidden': 'true' }),
          `${t('chart.baseline_median')} ${fmtTick(base.median, o.dec)}`)
        : null)
    : null;
  return h('div.chart-wrap', svg, legend);
}

function lowerBound(a, tm) {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid].t < tm) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A gap larger than this between two points breaks the line. */
function gapOf(series) {
  if (series.length < 3) return Infinity;
  const d = [];
  for (let i = 1; i < series.length; i++) d.push(series[i].t - series[i - 1].t);
  d.sort((a, b) => a - b);
  return Math.max(d[Math.floor(d.length / 2)] * 6, 5 * 60_000);
}

function pathOf(pairs, x, y, gap) {
  let d = '';
  let prev = null;
  for (const [tm, v] of pairs) {
    d += `${prev === null || tm - prev > gap ? 'M' : 'L'}${x(tm).toFixed(1)},${y(v).toFixed(1)}`;
    prev = tm;
  }
  return d;
}

function niceTicks(lo, hi, n) {
  const span = hi - lo;
  const step0 = span / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * mag).find((k) => k >= step0) || 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(+v.toFixed(6));
  return out;
}

function fmtTick(v, dec = 0) {
  return Number(v).toFixed(dec);
}

function timeTicks(from, to) {
  const span = to - from;
  const out = [];
  if (span <= 2 * DAY) {
    const step = span <= 2 * HOUR ? HOUR / 6 : span <= 6 * HOUR ? HOUR : span <= DAY + HOUR ? 3 * HOUR : 6 * HOUR;
    let tm = startOfDay(from);
    while (tm < from) tm += step;
    for (; tm <= to; tm += step) out.push([tm, fmtTime(tm)]);
  } else {
    const stepDays = span <= 8 * DAY ? 1 : span <= 32 * DAY ? 5 : 30;
    let tm = startOfDay(from) + DAY;
    let i = 0;
    for (; tm <= to; tm = startOfDay(tm + DAY + HOUR), i++) {
      if (i % stepDays === 0) out.push([tm, stepDays === 1 ? fmtWeekday(tm) : fmtDate(tm)]);
    }
  }
  return out;
}
