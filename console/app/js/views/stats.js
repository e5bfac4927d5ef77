// Community statistics for a part of the organisation: residents monitored, alerts by level over
// time, time to acknowledge, devices online. From the API's statistics when it has them; what it
// lacks is computed here from residents, vitals and alerts (and the page says so).

import { h, s, fill } from '../dom.js';
import { t } from '../i18n.js';
import { api } from '../api.js';
import { fmtDuration, fmtDate, startOfDay, fmtNumber } from '../fmt.js';
import { state, on, loadLatest, communityOf } from '../state.js';
import { LEVELS, levelLabel } from '../alerting.js';

const DAY = 86400_000;
const DAYS = 14;

export function mount(root) {
  const offs = [];
  let alive = true;
  let subtree = 'all';
  const picker = h('select#stats-subtree', { onchange: () => { subtree = picker.value; refresh(); } });
  const tiles = h('div.stat-tiles');
  const chartBox = h('div.stat-chart');
  const note = h('p.note');
  root.replaceChildren(h('section.stats', { 'aria-labelledby': 'stats-title' },
    h('div.view-head', h('h1#stats-title', t('stats.title')),
      h('label.view-tools', { for: 'stats-subtree' }, t('stats.subtree'), ' ', picker)),
    tiles, h('section.panel', h('h2', t('stats.by_level', { n: DAYS })), chartBox), note));

  function options() {
    const opts = [h('option', { value: 'all' }, t('stats.all'))];
    const communities = new Map();
    const grids = new Map();
    for (const r of state.residents.values()) {
      grids.set(r.grid_id, r.grid_name);
      const c = communityOf(r.grid_id);
      if (c) communities.set(c.org_unit_id, c.name);
    }
    for (const [id, name] of communities) opts.push(h('option', { value: `unit:${id}` }, name));
    for (const [id, name] of [...grids].sort((a, b) => a[1].localeCompare(b[1]))) opts.push(h('option', { value: `grid:${id}` }, name));
    fill(picker, opts);
    picker.value = subtree;
  }

  function residentsIn() {
    const all = [...state.residents.values()];
    if (subtree === 'all') return all;
    const [kind, idS] = subtree.split(':');
    const id = Number(idS);
    if (kind === 'grid') return all.filter((r) => r.grid_id === id);
    return all.filter((r) => {
      const c = communityOf(r.grid_id);
      return c && c.org_unit_id === id;
    });
  }

  let gen = 0;
  async function refresh() {
    const my = ++gen;
    const residents = residentsIn();
    const ids = new Set(residents.map((r) => r.resident_id));
    const homes = new Set(residents.map((r) => r.household_id));
    fill(tiles, h('p.muted', t('common.loading')));
    const now = Date.now();
    const from = startOfDay(now) - (DAYS - 1) * DAY;

    // Alerts of the window (active and resolved), in this subtree.
    let alerts = [];
    try {
      const [active, resolved] = await Promise.all([
        api('/alerts', { query: { limit: 1000 } }),
        api('/alerts', { query: { status: 'resolved', limit: 1000 } }),
      ]);
      alerts = active.concat(resolved).filter((a) => (a.resident_id !== null && a.resident_id !== undefined ? ids.has(a.resident_id) : homes.has(a.household_id)));
    } catch {
      /* shown as zero */
    }
    let server = null;
    if (state.caps.stats) {
      try {
        const unit = subtree.startsWith('unit:') || subtree.startsWith('grid:') ? Number(subtree.split(':')[1]) : undefined;
        server = await api(state.caps.stats, { query: { org_unit_id: unit, from: new Date(from).toISOString(), to: new Date(now).toISOString() } });
      } catch {
        server = null;
      }
    }
    // Without server statistics: newest vitals of everyone in the subtree (a call each).
    if (!server) await loadLatest(residents.map((r) => r.resident_id).filter((id) => !state.latestLoaded.has(id)));
    if (my !== gen || !alive) return;

    const inWindow = alerts.filter((a) => Date.parse(a.opened_at) >= from);
    const acked = inWindow.filter((a) => a.acknowledged_at).map((a) => Date.parse(a.acknowledged_at) - Date.parse(a.opened_at)).filter((d) => d >= 0).sort((a, b) => a - b);
    const q = (p) => (acked.length ? acked[Math.min(acked.length - 1, Math.floor(p * acked.length))] : NaN);

    let monitored = 0;
    const devices = new Map();
    for (const r of residents) {
      const m = state.latest.get(r.resident_id) || {};
      let recent = false;
      for (const p of Object.values(m)) {
        const at = Date.parse(p.measured_at);
        if (now - at < DAY) recent = true;
        const prev = devices.get(p.device_id) || 0;
        devices.set(p.device_id, Math.max(prev, at));
      }
      if (recent) monitored++;
    }
    const online = [...devices.values()].filter((at) => now - at < 3600_000).length;

    const tile = (key, value, sub) => h('div.stat', { dataset: { stat: key } }, h('span.stat-value', value), h('span.stat-name', t(`stats.${key}`)), sub ? h('span.stat-sub', sub) : null);
    if (server) {
      const median = Number.isFinite(server.median_time_to_acknowledge_s) ? server.median_time_to_acknowledge_s * 1000 : NaN;
      const byLevel = server.alerts_by_level || {};
      fill(tiles,
        tile('residents', fmtNumber(server.residents)),
        tile('monitored', fmtNumber(server.residents_monitored), t('stats.monitored_sub_server')),
        tile('open', fmtNumber(server.alerts_open)),
        tile('opened', fmtNumber(LEVELS.reduce((n, l) => n + (byLevel[l] || 0), 0)), LEVELS.filter((l) => byLevel[l]).map((l) => `${levelLabel(l)} ${byLevel[l]}`).join(' · ') || t('stats.none')),
        tile('ack_median', fmtDuration(median), t('stats.ack_sub', { p90: fmtDuration(q(0.9)), n: server.alerts_acknowledged })),
        tile('devices_online', `${fmtNumber(server.devices_online)} / ${fmtNumber(server.devices)}`, t('stats.devices_sub')),
        tile('gateways_online', `${fmtNumber(server.gateways_online)} / ${fmtNumber(server.gateways)}`));
    } else {
      fill(tiles,
        tile('residents', fmtNumber(residents.length)),
        tile('monitored', fmtNumber(monitored), t('stats.monitored_sub')),
        tile('open', fmtNumber(alerts.filter((a) => a.status !== 'resolved').length)),
        tile('ack_median', fmtDuration(q(0.5)), t('stats.ack_sub', { p90: fmtDuration(q(0.9)), n: acked.length })),
        tile('devices_online', `${online} / ${devices.size}`, t('stats.devices_sub')));
    }
    fill(chartBox, barChart(inWindow, from));
    note.textContent = server ? t('stats.note_server', { n: DAYS }) : t('stats.note_client');
  }

  function barChart(alerts, from) {
    const W = 640;
    const H = 200;
    const L = 34;
    const B = 28;
    const days = Array.from({ length: DAYS }, () => Object.fromEntries(LEVELS.map((l) => [l, 0])));
    for (const a of alerts) {
      const i = Math.floor((startOfDay(Date.parse(a.opened_at)) - from) / DAY + 0.5);
      if (i >= 0 && i < DAYS && days[i][a.level] !== undefined) days[i][a.level]++;
    }
    const max = Math.max(1, ...days.map((d) => LEVELS.reduce((n, l) => n + d[l], 0)));
    const bw = (W - L - 8) / DAYS;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart bars', role: 'img', 'aria-label': t('stats.by_level', { n: DAYS }) });
    for (let k = 0; k <= 4; k++) {
      const v = Math.round((max * k) / 4);
      const y = H - B - ((H - B - 10) * v) / max;
      svg.append(s('line', { class: 'grid', x1: L, x2: W - 8, y1: y, y2: y }), s('text', { class: 'axis-text', x: L - 4, y: y + 4, 'text-anchor': 'end' }, String(v)));
    }
    days.forEach((d, i) => {
      let y = H - B;
      const x = L + i * bw + 2;
      for (const l of LEVELS.slice().reverse()) {
        if (!d[l]) continue;
        const hgt = ((H - B - 10) * d[l]) / max;
        y -= hgt;
        svg.append(s('rect', { class: `bar bar-${l}`, x, y, width: bw - 4, height: hgt }, s('title', null, `${fmtDate(from + i * DAY)} · ${levelLabel(l)}: ${d[l]}`)));
      }
      if (i % 2 === 0 || DAYS <= 7) svg.append(s('text', { class: 'axis-text', x: x + (bw - 4) / 2, y: H - 10, 'text-anchor': 'middle' }, fmtDate(from + i * DAY + 12 * 3600_000)));
    });
    const legend = h('ul.legend', LEVELS.map((l) => h('li', h('span.swatch', { dataset: { level: l } }), levelLabel(l))));
    const table = h('table.vh', h('caption', t('stats.by_level', { n: DAYS })),
      h('tbody', days.map((d, i) => h('tr', h('th', fmtDate(from + i * DAY + 12 * 3600_000)), LEVELS.map((l) => h('td', String(d[l])))))));
    return [svg, legend, table];
  }

  options();
  refresh();
  offs.push(on('residents', () => { options(); }));
  return { unmount() { alive = false; offs.forEach((f) => f()); } };
}
