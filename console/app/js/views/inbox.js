// The alert inbox: active alerts by level and age; acknowledge in one click, resolve with a note
// or snooze in two; who is on it; each alert's escalation and notification history.

import { h, fill, setText } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { fmtAgo, fmtWhen, fmtTimeSec } from '../fmt.js';
import { state, on, isStaff, userName, putAlert, loadAlerts, fillPath } from '../state.js';
import { LEVELS, inboxOrder, isActive, conditionLabel, levelLabel, statusLabel } from '../alerting.js';
import { toast } from '../ui.js';

const ICON = { critical: '‼', urgent: '!', warning: '▲', info: 'i' };

export function mount(root, params = {}) {
  const rows = new Map(); // alert_id -> refs
  let tab = 'active';
  let level = params.level || 'all';
  let resolved = [];
  let frame = 0;
  const offs = [];

  const tabs = h('div.tabs', { role: 'tablist' });
  const chips = h('div.chips', { role: 'group', 'aria-label': t('inbox.by_level') });
  const list = h('div.alert-list', { role: 'list', 'aria-live': 'polite' });
  const empty = h('p.empty', { hidden: true }, t('inbox.none'));
  root.replaceChildren(
    h('section.inbox', { 'aria-labelledby': 'inbox-title' },
      h('div.view-head', h('h1#inbox-title', t('inbox.title')), tabs),
      chips, list, empty),
  );

  function renderTabs() {
    fill(tabs, ...['active', 'resolved'].map((k) =>
      h('button.tab', { type: 'button', role: 'tab', 'aria-selected': String(tab === k), onclick: () => switchTab(k) }, t(`inbox.tab.${k}`))));
  }

  async function switchTab(k) {
    tab = k;
    renderTabs();
    if (k === 'resolved') {
      try {
        resolved = await api('/alerts', { query: { status: 'resolved', limit: 200 } });
      } catch {
        resolved = [];
      }
    }
    for (const ref of rows.values()) ref.el.remove();
    rows.clear();
    schedule();
  }

  function source() {
    if (tab === 'resolved') return resolved;
    return [...state.alerts.values()].filter(isActive);
  }

  function renderChips(all) {
    const counts = Object.fromEntries(LEVELS.map((l) => [l, 0]));
    for (const a of all) counts[a.level] = (counts[a.level] || 0) + 1;
    const chip = (key, label, n) =>
      h('button.chip', { type: 'button', dataset: { level: key }, 'aria-pressed': String(level === key), onclick: () => { level = key; schedule(); } },
        label, n === null ? null : h('span.n', String(n)));
    fill(chips, chip('all', t('inbox.all'), all.length), ...LEVELS.map((l) => chip(l, levelLabel(l), counts[l])));
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function render() {
    frame = 0;
    const all = source();
    renderChips(all);
    const shown = all.filter((a) => level === 'all' || a.level === level).sort(tab === 'resolved' ? (a, b) => b.alert_id - a.alert_id : inboxOrder);
    const keep = new Set(shown.map((a) => a.alert_id));
    for (const [id, ref] of rows) {
      if (!keep.has(id)) {
        ref.el.remove();
        rows.delete(id);
      }
    }
    let prev = null;
    for (const a of shown) {
      let ref = rows.get(a.alert_id);
      if (!ref) {
        ref = row(a);
        rows.set(a.alert_id, ref);
      }
      ref.alert = a;
      update(ref);
      const want = prev ? prev.nextSibling : list.firstChild;
      if (want !== ref.el) list.insertBefore(ref.el, want);
      prev = ref.el;
    }
    empty.hidden = shown.length > 0;
  }

  function subjectOf(a) {
    const r = a.resident_id !== null && a.resident_id !== undefined ? state.residents.get(a.resident_id) : null;
    if (r) return h('a', { href: `#/residents/${r.resident_id}` }, r.full_name);
    const anyone = [...state.residents.values()].find((x) => x.household_id === a.household_id);
    return h('span', anyone ? anyone.household_name : t('inbox.household', { id: a.household_id }));
  }

  function row(a) {
    const badge = h('span.badge');
    const title = h('h3.alert-title');
    const subject = h('p.subject');
    const meta = h('p.meta');
    const who = h('p.who');
    const actions = h('div.actions');
    const form = h('div.inline-form', { hidden: true });
    const detail = h('div.detail', { hidden: true });
    const el = h('article.alert', { role: 'listitem', dataset: { alertId: a.alert_id } }, badge,
      h('div.alert-body', title, subject, meta, who, actions, form, detail));
    if (state.liveAlerts.has(a.alert_id)) el.dataset.live = '1';
    return { el, badge, title, subject, meta, who, actions, form, detail, alert: a, formOpen: null, detailOpen: false, key: '' };
  }

  function update(ref) {
    const a = ref.alert;
    const now = Date.now();
    ref.el.dataset.level = a.level;
    ref.el.dataset.status = a.status;
    if (state.liveAlerts.has(a.alert_id)) ref.el.dataset.live = '1';
    setText(ref.badge, `${ICON[a.level] || ''} ${levelLabel(a.level)}`);
    ref.badge.dataset.level = a.level;
    setText(ref.title, conditionLabel(a));
    if (ref.title.title !== (a.title || '')) ref.title.title = a.title || '';
    const key = `${a.resident_id}|${a.household_id}|${state.residents.size}`;
    if (ref.subjectKey !== key) {
      ref.subjectKey = key;
      fill(ref.subject, subjectOf(a));
    }
    const metaParts = [t('inbox.opened', { ago: fmtAgo(a.opened_at, now), at: fmtWhen(a.opened_at, now) })];
    if (a.escalation_step > 0) metaParts.push(t('inbox.escalation', { n: a.escalation_step }));
    if (a.cleared_at) metaParts.push(t('inbox.cleared', { at: fmtWhen(a.cleared_at, now) }));
    if (a.snoozed_until && Date.parse(a.snoozed_until) > now) metaParts.push(t('inbox.snoozed_until', { at: fmtWhen(a.snoozed_until, now) }));
    setText(ref.meta, metaParts.join(' · '));
    setText(ref.who, whoLine(a, now));
    const actionKey = `${a.status}|${ref.formOpen}|${ref.detailOpen}|${tab}`;
    if (ref.key !== actionKey) {
      ref.key = actionKey;
      renderActions(ref);
    }
  }

  function whoLine(a, now) {
    const st = statusLabel(a.status);
    if (a.status === 'acknowledged') {
      const n = userName(a.acknowledged_by);
      const by = n === null ? t('inbox.by_you') : a.acknowledged_by_name || n;
      const at = fmtWhen(a.acknowledged_at, now);
      // A live event carries no "who": until the alert's detail arrives, only the time.
      return `${st} · ${by ? t('inbox.ack_by', { who: by, at }) : t('inbox.at', { at })}`;
    }
    if (a.status === 'resolved') {
      const n = userName(a.resolved_by);
      const by = n === null ? t('inbox.by_you') : a.resolved_by_name || n;
      const at = fmtWhen(a.resolved_at, now);
      const when = by ? t('inbox.resolved_by', { who: by, at }) : t('inbox.at', { at });
      return `${st} · ${when}${a.resolution_note ? ` — “${a.resolution_note}”` : ''}`;
    }
    return `${st} · ${t('inbox.nobody_yet')}`;
  }

  function renderActions(ref) {
    const a = ref.alert;
    const btns = [];
    if (a.status === 'open') btns.push(h('button.primary.ack', { type: 'button', onclick: () => act(ref, 'acknowledge', {}) }, t('inbox.ack')));
    if (isStaff() && a.status !== 'resolved') {
      btns.push(h('button.resolve', { type: 'button', 'aria-expanded': String(ref.formOpen === 'resolve'), onclick: () => toggleForm(ref, 'resolve') }, t('inbox.resolve')));
      btns.push(h('button.snooze', { type: 'button', 'aria-expanded': String(ref.formOpen === 'snooze'), onclick: () => toggleForm(ref, 'snooze') }, t('inbox.snooze')));
    }
    btns.push(h('button.link.history', { type: 'button', 'aria-expanded': String(ref.detailOpen), onclick: () => toggleDetail(ref) }, t('inbox.history')));
    fill(ref.actions, ...btns);
  }

  function toggleForm(ref, kind) {
    ref.formOpen = ref.formOpen === kind ? null : kind;
    if (!ref.formOpen) {
      ref.form.hidden = true;
      ref.form.replaceChildren();
    } else if (kind === 'resolve') {
      const note = h('textarea.resolve-note', { rows: 2, required: true, placeholder: t('inbox.resolve_note'), 'aria-label': t('inbox.resolve_note') });
      const go = h('button.primary.confirm', { type: 'submit' }, t('inbox.resolve_confirm'));
      const f = h('form', { onsubmit: (e) => { e.preventDefault(); if (!note.value.trim()) { note.focus(); return; } act(ref, 'resolve', { note: note.value.trim() }); } },
        note, h('div.row', go, h('button.link', { type: 'button', onclick: () => toggleForm(ref, kind) }, t('common.cancel'))));
      fill(ref.form, f);
      ref.form.hidden = false;
      note.focus();
    } else {
      const opts = [15, 30, 60, 120].map((m) => h('button.snooze-for', { type: 'button', dataset: { minutes: m }, onclick: () => act(ref, 'snooze', { minutes: m }) }, t('inbox.minutes', { n: m })));
      fill(ref.form, h('div.row', h('span.muted', t('inbox.snooze_for')), ...opts, h('button.link', { type: 'button', onclick: () => toggleForm(ref, kind) }, t('common.cancel'))));
      ref.form.hidden = false;
    }
    update(ref);
  }

  async function act(ref, action, body) {
    const a = ref.alert;
    ref.el.classList.add('busy');
    for (const b of ref.el.querySelectorAll('button')) b.disabled = true;
    try {
      const updated = await api(`/alerts/${a.alert_id}/${action}`, { method: 'POST', body });
      ref.formOpen = null;
      ref.form.hidden = true;
      ref.form.replaceChildren();
      ref.key = '';
      putAlert(updated);
      if (tab === 'resolved') resolved = resolved.map((x) => (x.alert_id === updated.alert_id ? updated : x));
      toast(t(`inbox.done.${action}`, { what: conditionLabel(updated) }));
      if (ref.detailOpen) loadDetail(ref);
    } catch (e) {
      const msg = e instanceof ApiError && e.status === 409 ? t('inbox.err.resolved') : e instanceof ApiError && e.status === 403 ? t('inbox.err.forbidden') : e instanceof ApiError && e.status === 404 ? t('inbox.err.gone') : t('error.network');
      toast(msg, 'error');
      if (e instanceof ApiError && (e.status === 409 || e.status === 404)) loadAlerts().catch(() => {});
    } finally {
      ref.el.classList.remove('busy');
      ref.key = '';
      update(ref);
    }
  }

  function toggleDetail(ref) {
    ref.detailOpen = !ref.detailOpen;
    ref.detail.hidden = !ref.detailOpen;
    if (ref.detailOpen) loadDetail(ref);
    update(ref);
  }

  async function loadDetail(ref) {
    fill(ref.detail, h('p.muted', t('common.loading')));
    try {
      const d = await api(`/alerts/${ref.alert.alert_id}`);
      await learnNames(d);
      renderDetail(ref.detail, d);
    } catch {
      fill(ref.detail, h('p.form-error', t('error.network')));
    }
  }

  renderTabs();
  render();
  offs.push(on('alert', ({ alert }) => {
    const ref = rows.get(alert.alert_id);
    if (ref && ref.detailOpen) loadDetail(ref);
    schedule();
  }));
  offs.push(on('alerts', schedule));
  offs.push(on('residents', schedule));
  const ticker = setInterval(() => { for (const ref of rows.values()) update(ref); }, 30_000);

  return {
    unmount() {
      offs.forEach((f) => f());
      clearInterval(ticker);
      cancelAnimationFrame(frame);
    },
  };
}

/** Names of the people in an alert's history: its resident's care circle knows the family's. */
async function learnNames(d) {
  const ids = [...d.events.map((e) => e.user_id), ...d.notifications.map((n) => n.user_id)].filter((id) => id !== null && id !== undefined);
  const rid = d.alert.resident_id;
  if (!state.caps.careCircle || rid === null || rid === undefined || ids.every((id) => state.users.has(id))) return;
  try {
    for (const m of await api(fillPath(state.caps.careCircle, rid))) state.users.set(m.user_id, m.display_name);
  } catch {
    /* numbers stay numbers */
  }
}

/** An alert's history (events) and notifications, as two small tables. */
export function renderDetail(el, d) {
  // The API names people where the caller may know them (`user_name`); else the care circle's
  // names, else the id.
  const name = (id, given) => {
    if (id === null || id === undefined) return '';
    if (given) state.users.set(id, given);
    const n = userName(id);
    return n === null ? t('inbox.you') : n;
  };
  const evRows = d.events.map((e) =>
    h('li', { dataset: { kind: e.kind } },
      h('time', { datetime: e.at }, fmtWhen(e.at)), ' ',
      h('strong', t(`event.${e.kind}`, null, e.kind)),
      e.user_id !== null && e.user_id !== undefined ? ` · ${name(e.user_id, e.user_name)}` : '',
      e.note ? ` — “${e.note}”` : '',
      detailText(e)));
  const notRows = d.notifications.map((n) =>
    h('tr', h('td', String(n.step)), h('td', t(`channel.${n.channel}`, null, n.channel)),
      h('td', n.user_id !== null && n.user_id !== undefined ? name(n.user_id, n.user_name) : n.webhook_id ? t('inbox.webhook', { id: n.webhook_id }) : ''),
      h('td', t(`delivery.${n.status}`, null, n.status)), h('td', String(n.attempts)), h('td', fmtTimeSec(n.created_at))));
  fill(el,
    h('h4', t('inbox.events')),
    evRows.length ? h('ol.events', evRows) : h('p.muted', t('inbox.no_events')),
    h('h4', t('inbox.notifications')),
    notRows.length
      ? h('table.notifications', h('thead', h('tr', ...['step', 'channel', 'to', 'delivery', 'attempts', 'time'].map((k) => h('th', { scope: 'col' }, t(`inbox.col.${k}`))))), h('tbody', notRows))
      : h('p.muted', t('inbox.no_notifications')),
    evidence(d.alert));
}

function detailText(e) {
  const x = e.detail;
  if (!x || typeof x !== 'object') return '';
  const bits = [];
  if (x.step !== undefined) bits.push(t('inbox.step', { n: x.step }));
  if (x.tier) bits.push(t(`tier.${x.tier}`, null, x.tier));
  if (x.from && x.to) bits.push(`${levelLabel(x.from)} → ${levelLabel(x.to)}`);
  if (x.until) bits.push(t('inbox.until', { at: fmtWhen(x.until) }));
  return bits.length ? ` (${bits.join(', ')})` : '';
}

function evidence(a) {
  const ev = a && a.evidence;
  if (!ev || typeof ev !== 'object' || !Object.keys(ev).length) return null;
  const items = Object.entries(ev).filter(([, v]) => v === null || typeof v !== 'object').slice(0, 12);
  if (!items.length) return null;
  const show = (k, v) => (k.endsWith('_ms') && Number.isFinite(v) && v > 1e12 ? fmtWhen(v) : String(v));
  return h('div', h('h4', t('inbox.evidence')), h('dl.evidence', items.flatMap(([k, v]) => [h('dt', k), h('dd', show(k, v))])));
}
