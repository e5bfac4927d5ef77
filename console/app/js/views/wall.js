// The residents wall: everyone in scope, grouped by community and grid; per resident a status
// in colour and words, the newest vitals and the state of their devices and gateway. Cards are
// built once and patched in place: live updates are queued and applied once per frame, only to
// the cards that changed, so hundreds of residents updating stay smooth.

import { h, setText } from '../dom.js';
import { t } from '../i18n.js';
import { fmtAgo, fmtWhen } from '../fmt.js';
import { state, on, loadLatest, activeAlertsOf, communityOf } from '../state.js';
import { WALL_METRICS, metricName, unitOf, fmtValue } from '../metrics.js';
import { residentStatus, conditionLabel, levelLabel, levelRank } from '../alerting.js';

const ICON = { critical: '‼', urgent: '!', warning: '▲', info: 'i', ok: '✓', stale: '?', nodata: '–' };

export function mount(root) {
  const cards = new Map(); // resident_id -> refs
  const dirty = new Set();
  let frame = 0;
  let filter = { text: '', attention: false };
  const offs = [];

  const search = h('input.search#wall-search', { type: 'search', placeholder: t('wall.search'), 'aria-label': t('wall.search'), oninput: () => { filter.text = search.value.trim().toLowerCase(); applyFilter(); } });
  const attention = h('button.chip#wall-attention', { type: 'button', 'aria-pressed': 'false', onclick: () => { filter.attention = !filter.attention; attention.setAttribute('aria-pressed', String(filter.attention)); applyFilter(); } }, t('wall.attention'));
  const summary = h('div.summary', { role: 'status', 'aria-live': 'polite' });
  const groups = h('div.groups');
  root.replaceChildren(
    h('section.wall', { 'aria-labelledby': 'wall-title' },
      h('div.view-head', h('h1#wall-title', t('wall.title')), h('div.view-tools', search, attention)),
      summary,
      groups),
  );

  // Newest vitals for cards as they come into view (all at once when the API has a dashboard).
  const pending = new Set();
  const requested = new Set();
  let loadTimer = 0;
  const io = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      const id = Number(e.target.dataset.residentId);
      if (!state.latestLoaded.has(id) && !requested.has(id)) pending.add(id);
    }
    if (pending.size && !loadTimer) {
      loadTimer = setTimeout(() => {
        loadTimer = 0;
        const ids = [...pending];
        pending.clear();
        for (const id of ids) requested.add(id); // not asked twice
        loadLatest(ids).then(() => {
          // For measurements: when the first cards in view got their vitals.
          if (!performance.getEntriesByName('wall-vitals').length) performance.mark('wall-vitals');
        });
      }, 30);
    }
  }, { rootMargin: '400px' });

  build();
  offs.push(on('residents', build));
  offs.push(on('vitals', ({ ids }) => mark(ids)));
  offs.push(on('devices', () => mark(null)));
  offs.push(on('alerts', () => mark(null)));
  offs.push(on('alert', ({ alert }) => {
    if (alert.resident_id !== null && alert.resident_id !== undefined) mark([alert.resident_id]);
    else mark([...state.residents.values()].filter((r) => r.household_id === alert.household_id).map((r) => r.resident_id));
  }));
  // Ages ("3 min ago") move on by themselves.
  const ticker = setInterval(() => mark(null), 30_000);

  function build() {
    io.disconnect();
    cards.clear();
    const byCommunity = new Map();
    const residents = [...state.residents.values()].sort((a, b) => a.full_name.localeCompare(b.full_name));
    for (const r of residents) {
      const c = communityOf(r.grid_id);
      const ckey = c ? c.org_unit_id : 0;
      if (!byCommunity.has(ckey)) byCommunity.set(ckey, { name: c ? c.name : null, grids: new Map() });
      const grids = byCommunity.get(ckey).grids;
      if (!grids.has(r.grid_id)) grids.set(r.grid_id, { name: r.grid_name, residents: [] });
      grids.get(r.grid_id).residents.push(r);
    }
    const frag = document.createDocumentFragment();
    const communities = [...byCommunity.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)));
    for (const c of communities) {
      const sec = h('section.community', h('h2', c.name || t('wall.community_all')));
      for (const [gid, g] of [...c.grids].sort((a, b) => a[1].name.localeCompare(b[1].name))) {
        const list = h('div.cards', { role: 'list' });
        for (const r of g.residents) list.append(card(r));
        sec.append(h('section.grid-group', { dataset: { gridId: gid } }, h('h3', g.name, ' ', h('span.count', `(${g.residents.length})`)), list));
      }
      frag.append(sec);
    }
    if (!state.residents.size) frag.append(h('p.empty', t('wall.none')));
    groups.replaceChildren(frag);
    for (const ref of cards.values()) io.observe(ref.el);
    mark(null);
    applyFilter();
  }

  function card(r) {
    const statusText = h('span.status-text');
    const statusIcon = h('span.status-icon', { 'aria-hidden': 'true' });
    const status = h('p.status', statusIcon, statusText);
    const vitals = {};
    const vitalsRow = h('dl.vitals');
    for (const m of WALL_METRICS) {
      const dd = h('dd', h('span.v', '–'), ' ', h('span.u', m === 'bp' ? 'mmHg' : unitOf(m)));
      const box = h('div.vital', { dataset: { metric: m }, hidden: true }, h('dt', m === 'bp' ? t('metric.bp') : metricName(m)), dd);
      vitals[m] = { dd, v: dd.firstChild, box };
      vitalsRow.append(box);
    }
    const devices = h('p.devices');
    const seen = h('p.seen');
    const age = r.birth_year ? new Date().getFullYear() - r.birth_year : null;
    const el = h(
      'article.card',
      { role: 'listitem', dataset: { residentId: r.resident_id, status: 'nodata' }, 'aria-label': r.full_name },
      h('header', h('a.name', { href: `#/residents/${r.resident_id}` }, r.full_name), age ? h('span.age', t('wall.age', { n: age })) : null),
      status,
      vitalsRow,
      h('footer', devices, seen),
    );
    el.title = r.household_name;
    cards.set(r.resident_id, { el, r, status, statusText, statusIcon, vitals, devices, seen, level: null, hidden: false });
    return el;
  }

  function mark(ids) {
    if (ids === null) for (const id of cards.keys()) dirty.add(id);
    else for (const id of ids) if (cards.has(id)) dirty.add(id);
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    const now = Date.now();
    for (const id of dirty) update(cards.get(id), now);
    dirty.clear();
    renderSummary();
    if (filter.attention) applyFilter();
  }

  function update(ref, now) {
    if (!ref) return;
    const { r } = ref;
    const latest = state.latest.get(r.resident_id) || {};
    let lastSeen = 0;
    for (const p of Object.values(latest)) lastSeen = Math.max(lastSeen, Date.parse(p.measured_at) || 0);
    const st = residentStatus(activeAlertsOf(r.resident_id, r.household_id), lastSeen || (state.latestLoaded.has(r.resident_id) ? 0 : null), now);
    let level = st.level;
    if (level === 'nodata' && !state.latestLoaded.has(r.resident_id)) level = 'loading';
    if (ref.level !== level) {
      ref.el.dataset.status = level;
      ref.level = level;
    }
    ref.statusIcon.textContent = ICON[level] || '…';
    let text;
    if (st.alert) {
      text = `${levelLabel(st.level)} · ${conditionLabel(st.alert)}${st.acknowledged ? ` · ${t('status.acknowledged')}` : ''}`;
    } else {
      text = t(`wall.status.${level}`);
    }
    setText(ref.statusText, text);
    for (const m of WALL_METRICS) {
      const cell = ref.vitals[m];
      let val = '–';
      let at = 0;
      if (m === 'bp') {
        const s = latest.bp_systolic;
        const d = latest.bp_diastolic;
        if (s && d) {
          val = `${fmtValue('bp_systolic', s.value)}/${fmtValue('bp_diastolic', d.value)}`;
          at = Date.parse(s.measured_at);
        }
      } else if (latest[m]) {
        val = fmtValue(m, latest[m].value);
        at = Date.parse(latest[m].measured_at);
      }
      setText(cell.v, val);
      if (cell.box.hidden !== !at) cell.box.hidden = !at; // only what this resident's devices measure
      const old = at && now - at > 6 * 3600_000;
      cell.dd.classList.toggle('old', Boolean(old));
      const tip = at ? fmtWhen(at, now) : '';
      if (cell.dd.title !== tip) cell.dd.title = tip;
    }
    setText(ref.devices, deviceLine(r, latest, now));
    ref.devices.classList.toggle('bad', ref.devicesBad === true);
    setText(ref.seen, lastSeen ? t('wall.seen', { ago: fmtAgo(lastSeen, now) }) : '');

    function deviceLine() {
      ref.devicesBad = false;
      const parts = [];
      const gws = state.gateways.get(r.household_id);
      const gwAlert = activeAlertsOf(null, r.household_id).find((a) => String(a.condition).startsWith('gateway_offline'));
      if (gws && gws.length) {
        const online = gws.every((g) => (g.online !== undefined ? g.online : g.status === 'online'));
        if (!online) ref.devicesBad = true;
        parts.push(online ? t('wall.gw_online') : t('wall.gw_offline'));
      } else if (gwAlert) {
        ref.devicesBad = true;
        parts.push(t('wall.gw_offline'));
      }
      const devs = state.devices.get(r.resident_id);
      if (devs) {
        const quiet = devs.filter((d) => d.online === false).length;
        const low = devs.filter((d) => Number.isFinite(d.battery_pct) && d.battery_pct < 15).length;
        if (quiet || low) ref.devicesBad = true;
        parts.push(t('wall.devices', { n: devs.length }) + (quiet ? ` · ${t('wall.devices_quiet', { n: quiet })}` : '') + (low ? ` · ${t('wall.battery_low', { n: low })}` : ''));
      } else {
        const ids = new Set(Object.values(latest).map((p) => p.device_id));
        if (ids.size) parts.push(t('wall.devices_seen', { n: ids.size }));
        const bat = latest.battery;
        if (bat) {
          if (bat.value < 15) ref.devicesBad = true;
          parts.push(t('wall.battery', { v: fmtValue('battery', bat.value) }));
        }
      }
      return parts.join(' · ');
    }
  }

  function renderSummary() {
    const counts = { critical: 0, urgent: 0, warning: 0, info: 0, ok: 0, other: 0 };
    for (const ref of cards.values()) {
      if (ref.level in counts) counts[ref.level]++;
      else counts.other++;
    }
    const parts = [];
    for (const l of ['critical', 'urgent', 'warning', 'info']) if (counts[l]) parts.push(h('span.pill', { dataset: { status: l } }, `${levelLabel(l)} ${counts[l]}`));
    parts.push(h('span.pill', { dataset: { status: 'ok' } }, `${t('wall.status.ok')} ${counts.ok}`));
    parts.push(h('span.muted', t(cards.size === 1 ? 'wall.total_one' : 'wall.total', { n: cards.size })));
    const key = JSON.stringify(counts);
    if (summary.dataset.key !== key) {
      summary.dataset.key = key;
      summary.replaceChildren(...parts);
    }
  }

  function applyFilter() {
    for (const ref of cards.values()) {
      const byText = !filter.text || ref.r.full_name.toLowerCase().includes(filter.text) || ref.r.household_name.toLowerCase().includes(filter.text);
      const byLevel = !filter.attention || levelRank(ref.level) > 0;
      const hide = !(byText && byLevel);
      if (ref.hidden !== hide) {
        ref.el.hidden = hide;
        ref.hidden = hide;
      }
    }
    for (const g of groups.querySelectorAll('section.grid-group')) {
      g.hidden = !g.querySelector('article.card:not([hidden])');
    }
  }

  return {
    unmount() {
      offs.forEach((f) => f());
      io.disconnect();
      clearInterval(ticker);
      cancelAnimationFrame(frame);
      clearTimeout(loadTimer);
    },
  };
}
