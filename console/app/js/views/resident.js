// One resident: newest vitals, charts over a day, a week or a month (rollups for the long ranges
// when the API has them) with threshold bands and alerts on the timeline, their alerts, devices,
// care circle and thresholds (editable by staff when the API allows it). Someone the caller may
// not see answers 404 from the API, and the page shows "not found" and nothing else.

import { h, s, fill } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { fmtWhen, fmtAgo, fmtDateTime } from '../fmt.js';
import { state, on, isStaff, fillPath, itemsOf, activeAlertsOf, userName } from '../state.js';
import { CHART_METRICS, METRICS, metricName, unitOf, fmtValue, bandsFor, metricOfCondition, THRESHOLD_FIELDS, DEFAULT_THRESHOLDS } from '../metrics.js';
import { residentStatus, conditionLabel, levelLabel, statusLabel, isActive } from '../alerting.js';
import { chart } from '../chart.js';
import { toast } from '../ui.js';

const HOUR = 3600_000;
const RANGES = { hour: HOUR, day: 24 * HOUR, week: 7 * 24 * HOUR, month: 30 * 24 * HOUR };

export function mount(root, { id, query }) {
  const rid = Number(id);
  const offs = [];
  let alive = true;
  let range = RANGES[query.get('range')] ? query.get('range') : 'day';
  let devicesApi = null; // the devices endpoint's answer, when there is one
  let resident = null;
  let thresholds = null; // effective values
  let baselines = new Map(); // metric -> the rules' personal baseline, when the API has them
  let latest = {};
  let alerts = [];
  const series = new Map(); // metric -> { points | buckets }
  const chartBoxes = new Map();
  let redrawTimer = 0;

  root.replaceChildren(h('p.loading', t('common.loading')));

  (async () => {
    if (!Number.isInteger(rid) || rid <= 0) return notFound();
    try {
      resident = await api(`/residents/${rid}`);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 400)) return notFound();
      root.replaceChildren(h('p.form-error', { role: 'alert' }, t('error.network')));
      return;
    }
    if (!alive) return;
    render();
  })();

  function notFound() {
    if (!alive) return;
    root.replaceChildren(
      h('section.not-found', { 'aria-labelledby': 'nf-title' },
        h('h1#nf-title', t('resident.not_found')),
        h('p', t('resident.not_found_text')),
        h('p', h('a', { href: '#/wall' }, t('common.back_to_wall')))),
    );
  }

  // Layout, then the parts fill in as their data arrives.
  const head = h('div.resident-head');
  const tiles = h('div.tiles');
  const rangeSel = h('div.tabs', { role: 'tablist', 'aria-label': t('resident.range') });
  const charts = h('div.charts');
  const timeline = h('div.timeline');
  const alertBox = h('div.resident-alerts');
  const deviceBox = h('div.devices-box');
  const circleBox = h('div.circle-box');
  const thresholdBox = h('div.threshold-box');

  function render() {
    root.replaceChildren(
      h('section.resident', { 'aria-labelledby': 'res-title', dataset: { residentId: rid } },
        h('p.crumbs', h('a', { href: '#/wall' }, t('nav.wall')), ' › ', resident.grid_name),
        head, tiles,
        h('section.panel', h('div.panel-head', h('h2', t('resident.charts')), rangeSel), timeline, charts),
        h('div.two-col',
          h('section.panel', h('h2', t('resident.alerts')), alertBox),
          h('section.panel', h('h2', t('resident.devices')), deviceBox)),
        h('div.two-col',
          h('section.panel', h('h2', t('resident.circle')), circleBox),
          h('section.panel', h('h2', t('resident.thresholds')), thresholdBox))),
    );
    renderHead();
    renderRange();
    loadLatest().then(() => loadDevices());
    loadAlerts();
    Promise.all([loadThresholds(), loadBaselines()]).then(() => loadCharts());
    loadCircle();
    offs.push(on('vitals', ({ ids }) => {
      if (ids && !ids.includes(rid)) return;
      const m = state.latest.get(rid);
      if (m) {
        for (const [metric, p] of Object.entries(m)) {
          const old = latest[metric];
          if (!old || Date.parse(old.measured_at) < Date.parse(p.measured_at)) {
            latest[metric] = p;
            appendLive(p);
          }
        }
        renderTiles();
        renderHead();
        if (!devicesApi) renderDevices();
      }
    }));
    offs.push(on('alert', ({ alert }) => {
      if (alert.resident_id === rid || (alert.resident_id === null && alert.household_id === resident.household_id)) {
        const i = alerts.findIndex((a) => a.alert_id === alert.alert_id);
        if (i >= 0) alerts[i] = alert;
        else alerts.unshift(alert);
        renderAlerts();
        renderHead();
        scheduleRedraw();
      }
    }));
  }

  function renderHead() {
    const st = residentStatus(activeAlertsOf(rid, resident.household_id), lastSeen());
    const age = resident.birth_year ? new Date().getFullYear() - resident.birth_year : null;
    fill(head,
      h('div',
        h('h1#res-title', resident.full_name),
        h('p.muted', [age ? t('wall.age', { n: age }) : null, resident.household_name, resident.grid_name].filter(Boolean).join(' · '))),
      h('p.status.big', { dataset: { status: st.level } },
        h('span.status-text', st.alert ? `${levelLabel(st.level)} · ${conditionLabel(st.alert)}${st.acknowledged ? ` · ${t('status.acknowledged')}` : ''}` : t(`wall.status.${st.level}`))));
  }

  function lastSeen() {
    let m = 0;
    for (const p of Object.values(latest)) m = Math.max(m, Date.parse(p.measured_at) || 0);
    return m || null;
  }

  async function loadLatest() {
    try {
      const pts = await api(`/residents/${rid}/vitals/latest`);
      latest = {};
      for (const p of pts) latest[p.metric] = p;
      renderTiles();
      renderHead();
    } catch {
      fill(tiles, h('p.muted', t('error.network')));
    }
  }

  function renderTiles() {
    const list = [];
    for (const m of Object.keys(METRICS)) {
      const p = latest[m];
      if (!p || METRICS[m].event || m === 'rr_interval') continue;
      list.push(h('div.tile', { dataset: { metric: m } },
        h('span.tile-name', metricName(m)),
        h('span.tile-value', fmtValue(m, p.value), ' ', h('small', unitOf(m))),
        h('time.tile-time', { datetime: p.measured_at, title: fmtDateTime(p.measured_at) }, fmtAgo(p.measured_at))));
    }
    fill(tiles, list.length ? list : h('p.muted', t('resident.no_vitals')));
  }

  function renderRange() {
    fill(rangeSel, ...Object.keys(RANGES).map((k) =>
      h('button.tab', { type: 'button', role: 'tab', 'aria-selected': String(range === k), onclick: () => { range = k; renderRange(); loadCharts(); } }, t(`resident.range.${k}`))));
  }

  function metricsToChart() {
    const have = new Set(Object.keys(latest));
    const list = CHART_METRICS.filter((m) => have.has(m));
    return list.length ? list : ['spo2', 'heart_rate'].filter((m) => have.has(m));
  }

  let chartGen = 0;
  async function loadCharts() {
    const gen = ++chartGen;
    const to = Date.now();
    const from = to - RANGES[range];
    if (!Object.keys(latest).length) {
      try {
        const pts = await api(`/residents/${rid}/vitals/latest`);
        for (const p of pts) latest[p.metric] = p;
      } catch {
        /* no charts then */
      }
    }
    const metrics = metricsToChart();
    series.clear();
    chartBoxes.clear();
    fill(charts, ...metrics.map((m) => {
      const box = h('figure.chart-box', { dataset: { metric: m } }, h('figcaption', metricName(m), ' ', h('small', unitOf(m))), h('p.muted', t('common.loading')));
      chartBoxes.set(m, box);
      return box;
    }));
    if (!metrics.length) fill(charts, h('p.muted', t('resident.no_vitals')));
    await Promise.all(metrics.map(async (m) => {
      let data = null;
      try {
        data = await history(m, from, to);
      } catch {
        data = { points: [], error: true };
      }
      if (gen !== chartGen || !alive) return;
      series.set(m, { ...data, from, to });
      drawChart(m);
    }));
    drawTimeline(from, to);
  }

  async function history(m, from, to) {
    const iso = (x) => new Date(x).toISOString();
    const query = { metric: m, from: iso(from), to: iso(to) };
    if (state.caps.rollup && (range === 'week' || range === 'month')) {
      // Long ranges come rolled up by the server: min, mean and max per hour.
      const raw = await api(`/residents/${rid}/vitals`, { query: { ...query, resolution: 'hour' } });
      const buckets = (raw.buckets || []).map((b) => ({ t: Date.parse(b.start) + 1800_000, min: b.min, max: b.max, mean: b.mean, count: b.count }));
      return { buckets, rollup: true };
    }
    // Raw readings, following the server's pages up to a bound.
    const points = [];
    let cursor = null;
    let pages = 0;
    do {
      const q = { ...query, limit: 10000 };
      if (state.caps.rollup) q.resolution = 'raw';
      if (cursor) q.cursor = cursor;
      const raw = await api(`/residents/${rid}/vitals`, { query: q });
      for (const p of raw.points || []) points.push({ t: Date.parse(p.measured_at), v: p.value });
      cursor = raw.next_cursor || null;
      pages++;
    } while (cursor && pages < 5 && alive);
    return { points, truncated: Boolean(cursor) };
  }

  function markersFor(m) {
    return alerts
      .filter((a) => metricOfCondition(a.condition) === m)
      .map((a) => ({ t: Date.parse(a.opened_at), level: a.level, label: conditionLabel(a) }));
  }

  async function loadBaselines() {
    if (!state.caps.baselines) return;
    try {
      const raw = await api(fillPath(state.caps.baselines, rid));
      baselines = new Map((raw.baselines || []).map((b) => [b.metric, b]));
    } catch {
      baselines = new Map(); // charts without baselines
    }
  }

  function drawChart(m) {
    const box = chartBoxes.get(m);
    const d = series.get(m);
    if (!box || !d) return;
    const meta = METRICS[m] || {};
    const base = baselines.get(m);
    const el = chart({
      from: d.from, to: d.to, points: d.points, buckets: d.buckets,
      baseline: base && !base.learning ? base : null,
      bands: bandsFor(m, thresholds), markers: markersFor(m),
      min: meta.min, max: meta.max, dec: meta.dec, unit: unitOf(m),
      label: `${metricName(m)} (${unitOf(m)}), ${t(`resident.range.${range}`)}`,
    });
    const notes = [];
    if (d.truncated) notes.push(t('resident.truncated'));
    if (d.rollup) notes.push(t('resident.rollup', { bucket: t('resident.hourly') }));
    if (!thresholds && bandsFor(m, null).length) notes.push(t('resident.default_bands'));
    if (base && base.learning) notes.push(t('resident.baseline_learning', { days: base.days, need: base.learning_days }));
    fill(box, h('figcaption', metricName(m), ' ', h('small', unitOf(m))), el, notes.length ? h('p.note', notes.join(' ')) : null);
  }

  function appendLive(p) {
    const d = series.get(p.metric);
    if (!d || !d.points || (range !== 'day' && range !== 'hour')) return;
    const tm = Date.parse(p.measured_at);
    const last = d.points[d.points.length - 1];
    if (last && last.t >= tm) return;
    d.points.push({ t: tm, v: p.value });
    d.to = Math.max(d.to, Date.now());
    d.from = d.to - RANGES[range];
    scheduleRedraw();
  }

  function scheduleRedraw() {
    if (redrawTimer) return;
    redrawTimer = setTimeout(() => {
      redrawTimer = 0;
      for (const m of series.keys()) drawChart(m);
      const any = series.values().next().value;
      if (any) drawTimeline(any.from, any.to);
    }, 2000);
  }

  function drawTimeline(from, to) {
    const W = 640;
    const L = 44;
    const R = 12;
    const x = (tm) => L + ((tm - from) / (to - from)) * (W - L - R);
    const svg = s('svg', { viewBox: `0 0 ${W} 30`, class: 'timeline-svg', role: 'img', 'aria-label': t('resident.timeline') });
    svg.append(s('line', { class: 'axis-line', x1: L, x2: W - R, y1: 15, y2: 15 }));
    let n = 0;
    for (const a of alerts) {
      const t0 = Date.parse(a.opened_at);
      if (!(t0 >= from && t0 <= to)) continue;
      const t1 = Math.min(to, Date.parse(a.resolved_at || a.cleared_at) || to);
      n++;
      svg.append(s('g', { class: `marker marker-${a.level}` },
        s('rect', { x: x(t0), y: 9, width: Math.max(3, x(t1) - x(t0)), height: 12, rx: 2 }),
        s('title', null, `${levelLabel(a.level)}: ${conditionLabel(a)} · ${fmtDateTime(t0)} · ${statusLabel(a.status)}`)));
    }
    fill(timeline, h('span.timeline-label', t('resident.timeline'), n ? ` (${n})` : ` (${t('resident.no_alerts_range')})`), svg);
  }

  async function loadAlerts() {
    try {
      const [active, resolved] = await Promise.all([
        api('/alerts', { query: { resident_id: rid, limit: 200 } }),
        api('/alerts', { query: { resident_id: rid, status: 'resolved', limit: 200 } }),
      ]);
      alerts = active.concat(resolved);
    } catch {
      alerts = [];
    }
    if (!alive) return;
    renderAlerts();
    scheduleRedraw();
  }

  function renderAlerts() {
    const sorted = alerts.slice().sort((a, b) => (isActive(b) - isActive(a)) || Date.parse(b.opened_at) - Date.parse(a.opened_at));
    fill(alertBox, sorted.length
      ? h('ul.mini-alerts', sorted.slice(0, 30).map((a) =>
        h('li', { dataset: { level: a.level, status: a.status, alertId: a.alert_id } },
          h('span.badge', { dataset: { level: a.level } }, levelLabel(a.level)), ' ',
          h('strong', conditionLabel(a)), ' · ', statusLabel(a.status), ' · ',
          h('time', { datetime: a.opened_at }, fmtWhen(a.opened_at)))))
      : h('p.muted', t('resident.no_alerts')),
    activeAlertsOf(rid, resident.household_id).length ? h('p', h('a', { href: '#/alerts' }, t('resident.to_inbox'))) : null);
  }

  async function loadDevices() {
    try {
      if (state.caps.devicesByResident) devicesApi = itemsOf(await api(state.caps.devices, { query: { resident_id: rid } }));
      else if (state.hasDevices) devicesApi = state.devices.get(rid) || [];
    } catch {
      devicesApi = null;
    }
    if (alive) renderDevices();
  }

  function renderDevices() {
    const devices = devicesApi;
    const gateways = state.gateways.get(resident.household_id) || [];
    const rows = [];
    if (devices) {
      for (const d of devices) {
        const last = d.last_reading_ms || Date.parse(d.last_reading_at || '') || null;
        rows.push(h('tr', { dataset: { device: d.device_id, online: String(Boolean(d.online)) } }, h('td', d.device_id), h('td', t(`device.${d.kind}`, null, d.kind || '')),
          h('td', last ? fmtAgo(last) : t('resident.never'), d.online === false ? h('span.tag.bad', ` ${t('resident.silent')}`) : null),
          h('td', Number.isFinite(d.battery_pct) ? `${Math.round(d.battery_pct)} %` : '–')));
      }
    } else {
      // Without a devices endpoint: what the newest vitals say about each device.
      const by = new Map();
      for (const p of Object.values(latest)) {
        const e = by.get(p.device_id) || { last: 0, battery: null, metrics: [] };
        e.last = Math.max(e.last, Date.parse(p.measured_at));
        if (p.metric === 'battery') e.battery = p.value;
        else e.metrics.push(metricName(p.metric));
        by.set(p.device_id, e);
      }
      for (const [idd, e] of by) rows.push(h('tr', { dataset: { device: idd } }, h('td', idd), h('td', e.metrics.join(', ')), h('td', fmtAgo(e.last)), h('td', e.battery !== null ? `${Math.round(e.battery)} %` : '–')));
    }
    const gwAlert = activeAlertsOf(null, resident.household_id).find((a) => String(a.condition).startsWith('gateway_offline'));
    const gwLines = gateways.map((g) => h('p', { dataset: { gateway: g.gateway_id } }, t('resident.gateway', { id: g.gateway_id }), ' · ',
      h('span.gw-state', { dataset: { state: g.status || 'unknown' } }, t(`gw.${g.status || 'unknown'}`, null, g.status || '')),
      g.status_ms || g.status_at ? ` · ${fmtAgo(g.status_ms || g.status_at)}` : ''));
    if (!gateways.length && gwAlert) gwLines.push(h('p', h('span.gw-state', { dataset: { state: 'offline' } }, t('wall.gw_offline'))));
    fill(deviceBox,
      gwLines,
      rows.length ? h('table.devices-table', h('thead', h('tr', ...['device', 'kind', 'last', 'battery'].map((k) => h('th', { scope: 'col' }, t(`resident.col.${k}`))))), h('tbody', rows)) : h('p.muted', t('resident.no_devices')),
      devices ? null : h('p.note', t('resident.devices_derived')));
  }

  async function loadCircle() {
    if (!state.caps.careCircle) {
      fill(circleBox, h('p.note', t('resident.no_api')));
      return;
    }
    try {
      const members = itemsOf(await api(fillPath(state.caps.careCircle, rid)));
      for (const m of members) if (m.user_id && m.display_name) state.users.set(m.user_id, m.display_name);
      fill(circleBox, members.length
        ? h('ul.circle', members.map((m) => h('li', h('strong', m.display_name || m.username || `#${m.user_id}`), m.relationship ? ` · ${m.relationship}` : '', m.guardian ? ` · ${t('resident.guardian')}` : '')))
        : h('p.muted', t('resident.no_circle')));
    } catch {
      fill(circleBox, h('p.muted', t('resident.no_circle')));
    }
  }

  async function loadThresholds() {
    if (!state.caps.thresholds) {
      fill(thresholdBox, h('p.note', t('resident.thresholds_default')), thresholdTable(DEFAULT_THRESHOLDS, {}, false));
      return;
    }
    try {
      const raw = await api(fillPath(state.caps.thresholds, rid));
      const overrides = (raw && raw.overrides) || {};
      // The API returns the overrides; the values in force are the rules' defaults with them.
      thresholds = { ...DEFAULT_THRESHOLDS, ...overrides };
      renderThresholds(overrides, raw);
    } catch {
      thresholds = null;
      fill(thresholdBox, h('p.note', t('resident.thresholds_default')), thresholdTable(DEFAULT_THRESHOLDS, {}, false));
    }
  }

  function thresholdTable(values, overrides, editable) {
    const inputs = new Map();
    const rows = THRESHOLD_FIELDS.filter(([k]) => values[k] !== undefined).map(([k, unit]) => {
      const v = values[k];
      const cell = editable
        ? (() => {
          const inp = h('input', { type: 'number', step: 'any', value: String(v), name: k, 'aria-label': t(`th.${k}`, null, k) });
          inputs.set(k, inp);
          return inp;
        })()
        : String(v);
      return h('tr', { dataset: { key: k } }, h('th', { scope: 'row' }, t(`th.${k}`, null, k)), h('td', cell, ' ', unit.startsWith('unit.') ? t(unit) : unit),
        h('td', k in overrides ? h('span.tag', t('resident.override')) : h('span.muted', t('resident.default'))));
    });
    const table = h('table.thresholds', h('tbody', rows));
    table.inputs = inputs;
    return table;
  }

  function renderThresholds(overrides, raw) {
    const canEdit = isStaff() && Boolean(state.caps.thresholdsPut);
    const table = thresholdTable(thresholds, overrides, false);
    let who = null;
    if (raw && raw.updated_at) {
      const by = raw.updated_by === null || raw.updated_by === undefined ? '' : userName(raw.updated_by);
      who = h('p.note', t('resident.th_updated', { at: fmtWhen(raw.updated_at) }), by === null ? ` (${t('inbox.you')})` : by ? ` (${by})` : '');
    }
    const edit = canEdit ? h('button.edit-thresholds', { type: 'button', onclick: () => startEdit(overrides) }, t('common.edit')) : null;
    const extra = Object.keys(overrides).filter((k) => !THRESHOLD_FIELDS.some(([f]) => f === k));
    fill(thresholdBox, table,
      extra.length ? h('p.note', t('resident.th_other'), ' ', extra.map((k) => `${k} = ${JSON.stringify(overrides[k])}`).join(', ')) : null,
      who, edit);
  }

  function startEdit(overrides) {
    const table = thresholdTable(thresholds, overrides, true);
    const save = h('button.primary', { type: 'submit' }, t('common.save'));
    const form = h('form.threshold-form', {
      onsubmit: async (e) => {
        e.preventDefault();
        const next = { ...overrides };
        for (const [k, inp] of table.inputs) {
          const v = Number(inp.value);
          if (inp.value === '' || !Number.isFinite(v)) continue;
          if (v !== Number(thresholds[k]) || k in overrides) next[k] = v;
        }
        save.disabled = true;
        try {
          await putThresholds(next);
          toast(t('resident.th_saved'));
          await Promise.all([loadThresholds(), loadBaselines()]); // the band follows hampel_k
          for (const m of series.keys()) drawChart(m);
        } catch (err) {
          toast(err instanceof ApiError && err.status === 403 ? t('inbox.err.forbidden') : err instanceof ApiError ? `${t('resident.th_error')} ${err.message}` : t('error.network'), 'error');
          save.disabled = false;
        }
      },
    }, table, h('div.row', save, h('button.link', { type: 'button', onclick: () => loadThresholds() }, t('common.cancel'))));
    fill(thresholdBox, form);
  }

  function putThresholds(next) {
    // The body is the overrides object itself; it replaces all overrides.
    return api(fillPath(state.caps.thresholdsPut, rid), { method: 'PUT', body: next });
  }

  return {
    unmount() {
      alive = false;
      offs.forEach((f) => f());
      clearTimeout(redrawTimer);
    },
  };
}
