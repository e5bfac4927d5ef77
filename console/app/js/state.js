// The console's shared picture: who is signed in, what the API offers, residents, their newest
// vitals, devices and active alerts; kept current by the live stream. Views read it and listen
// to the bus; only this module talks to the API for shared data.

import { api } from './api.js';
import { setTimeZone } from './fmt.js';
import { isActive, levelRank } from './alerting.js';

export const state = {
  me: null,
  caps: {},
  residents: new Map(), // resident_id -> resident
  orgUnits: new Map(), // org_unit_id -> { org_unit_id, parent_id, kind, name, time_zone }
  latest: new Map(), // resident_id -> { metric -> point }
  latestLoaded: new Set(), // resident ids whose latest vitals were fetched at least once
  devices: new Map(), // resident_id -> [device]
  gateways: new Map(), // household_id -> [gateway]
  hasDevices: false,
  alerts: new Map(), // alert_id -> alert (active ones, plus those that changed while watched)
  liveAlerts: new Set(), // alert ids that arrived or changed through the live stream
  users: new Map(), // user_id -> display name, where known
  liveState: 'off',
  lastVitalsEventAt: 0,
};

const bus = new EventTarget();
export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, { detail }));
}
export function on(type, fn) {
  const h = (e) => fn(e.detail);
  bus.addEventListener(type, h);
  return () => bus.removeEventListener(type, h);
}

export function isStaff() {
  return state.me && state.me.role !== 'family';
}

/** A path template with its `{...}` parameters filled in order. */
export function fillPath(tpl, ...values) {
  let i = 0;
  return tpl.replace(/\{[^}]+\}/g, () => encodeURIComponent(values[i++]));
}

/** Finds what the server offers in its OpenAPI document, so the console uses what exists. */
export async function loadCaps() {
  let doc = { paths: {} };
  try {
    const res = await fetch('/api/openapi.json', { cache: 'no-store' });
    if (res.ok) doc = await res.json();
  } catch {
    /* no document: only the basics */
  }
  const paths = Object.entries(doc.paths || {});
  const find = (re, method = 'get') => {
    for (const [p, ops] of paths) if (re.test(p) && ops && ops[method]) return p;
    return null;
  };
  const hasParam = (path, name) => {
    const op = path && doc.paths[path] && doc.paths[path].get;
    return Boolean(op && (op.parameters || []).some((x) => x.name === name));
  };
  const R = '^/api/v1/residents/\\{[^}]+\\}';
  const history = '/api/v1/residents/{resident_id}/vitals';
  const devices = find(/^\/api\/v1\/devices$/);
  state.caps = {
    thresholds: find(new RegExp(`${R}/thresholds$`)),
    thresholdsPut: find(new RegExp(`${R}/thresholds$`), 'put'),
    thresholdHistory: find(new RegExp(`${R}/thresholds/history$`)),
    // The personal baselines the rules learnt (usual range per metric).
    baselines: find(new RegExp(`${R}/baselines$`)),
    // Rollups: the history call takes `resolution=hour|day`.
    rollup: hasParam(history, 'resolution'),
    devices,
    devicesByResident: hasParam(devices, 'resident_id'),
    careCircle: find(new RegExp(`${R}/(care-circle|care_circle)$`)),
    gateways: find(/^\/api\/v1\/gateways$/),
    org: find(/^\/api\/v1\/(org-units|org_units)$/),
    stats: find(/^\/api\/v1\/(stats|statistics)$/),
    dashboard: find(/^\/api\/v1\/vitals\/latest$/),
    logout: find(/^\/api\/v1\/auth\/logout$/, 'post'),
  };
  return state.caps;
}

export async function loadMe() {
  state.me = await api('/me');
  state.users.set(state.me.user_id, state.me.display_name);
  return state.me;
}

export async function loadResidents() {
  const list = await api('/residents');
  state.residents.clear();
  for (const r of list) state.residents.set(r.resident_id, r);
  emit('residents');
  return list;
}

/** Items of a list answer: an array, or the first array field of an object. */
export function itemsOf(x) {
  if (Array.isArray(x)) return x;
  if (x && typeof x === 'object') {
    for (const k of ['items', 'units', 'org_units', 'nodes', 'data', 'results', 'devices', 'gateways', 'members', 'residents']) {
      if (Array.isArray(x[k])) return x[k];
    }
    for (const v of Object.values(x)) if (Array.isArray(v)) return v;
  }
  return [];
}

/** The organisation units in scope (for community names and the time zone), when the API has them. */
export async function loadOrg() {
  if (!state.caps.org) return;
  try {
    const raw = await api(state.caps.org);
    const flat = [];
    const walk = (n, parent) => {
      if (!n || typeof n !== 'object') return;
      const id = n.org_unit_id ?? n.id;
      if (id !== undefined) flat.push({ ...n, org_unit_id: id, parent_id: n.parent_id ?? parent ?? null });
      for (const c of n.children || []) walk(c, id);
    };
    for (const n of Array.isArray(raw) ? raw : itemsOf(raw).length ? itemsOf(raw) : [raw]) walk(n, null);
    state.orgUnits.clear();
    for (const u of flat) state.orgUnits.set(u.org_unit_id, u);
    // The community's time zone, when the API tells it (the default is Asia/Shanghai).
    const zoned = flat.find((u) => u.kind === 'community' && u.time_zone) || flat.find((u) => u.time_zone);
    if (zoned) setTimeZone(zoned.time_zone);
    emit('residents');
  } catch {
    /* names of communities are a nicety */
  }
}

/** The community a grid belongs to, from the organisation tree; null when unknown. */
export function communityOf(gridId) {
  let u = state.orgUnits.get(gridId);
  const seen = new Set();
  while (u && !seen.has(u.org_unit_id)) {
    seen.add(u.org_unit_id);
    if (u.kind === 'community') return u;
    u = state.orgUnits.get(u.parent_id);
  }
  return null;
}

function setLatestPoint(rid, p) {
  let m = state.latest.get(rid);
  if (!m) state.latest.set(rid, (m = {}));
  const old = m[p.metric];
  if (!old || Date.parse(old.measured_at) <= Date.parse(p.measured_at)) m[p.metric] = p;
}

/** The newest vitals of these residents: in pages of 500 from the dashboard call, else one call each. */
export async function loadLatest(ids, { concurrency = 6 } = {}) {
  ids = ids.filter((id) => state.residents.has(id));
  if (!ids.length) return;
  if (state.caps.dashboard) {
    try {
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = await api(state.caps.dashboard, { query: { resident_ids: chunk.join(','), limit: 500 } });
        for (const id of chunk) {
          state.latest.set(id, {});
          state.latestLoaded.add(id);
        }
        for (const row of itemsOf(rows)) for (const p of row.vitals || []) setLatestPoint(row.resident_id, p);
        emit('vitals', { ids: chunk });
      }
      return;
    } catch {
      /* fall back to one call per resident */
    }
  }
  const queue = ids.slice();
  const worker = async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        const pts = await api(`/residents/${id}/vitals/latest`);
        state.latest.set(id, {});
        for (const p of pts) setLatestPoint(id, p);
        state.latestLoaded.add(id);
        emit('vitals', { ids: [id] });
      } catch {
        /* the card shows no data */
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
}

/** Devices and gateways in scope, when the API lists them. */
export async function loadDevices() {
  const tasks = [];
  if (state.caps.devices) {
    tasks.push(
      api(state.caps.devices)
        .then((raw) => {
          state.devices.clear();
          for (const d of itemsOf(raw)) {
            const list = state.devices.get(d.resident_id) || [];
            list.push(d);
            state.devices.set(d.resident_id, list);
          }
          state.hasDevices = true;
        })
        .catch(() => {}),
    );
  }
  if (state.caps.gateways) {
    tasks.push(
      api(state.caps.gateways)
        .then((raw) => {
          state.gateways.clear();
          for (const g of itemsOf(raw)) {
            const list = state.gateways.get(g.household_id) || [];
            list.push(g);
            state.gateways.set(g.household_id, list);
          }
        })
        .catch(() => {}),
    );
  }
  await Promise.all(tasks);
  emit('devices');
}

/** All active alerts in scope (the API's default: not resolved). */
export async function loadAlerts() {
  const list = await api('/alerts', { query: { limit: 1000 } });
  const seen = new Set();
  for (const a of list) {
    seen.add(a.alert_id);
    state.alerts.set(a.alert_id, a);
  }
  for (const [id, a] of state.alerts) {
    if (!seen.has(id) && isActive(a)) state.alerts.delete(id); // resolved while we were away
  }
  emit('alerts', { reload: true });
  return list;
}

export function activeAlertsOf(residentId, householdId) {
  const out = [];
  for (const a of state.alerts.values()) {
    if (!isActive(a)) continue;
    if (a.resident_id === residentId || (a.resident_id === null && a.household_id === householdId)) out.push(a);
  }
  return out;
}

export function userName(id) {
  if (id === null || id === undefined) return '';
  if (state.me && id === state.me.user_id) return null; // "you"
  return state.users.get(id) || `#${id}`;
}

const pendingDetail = new Map();

/** Applies one live `alert` event: update at once from the event, then fetch the whole alert. */
export function applyAlertEvent(ev) {
  const prev = state.alerts.get(ev.alert_id);
  const at = new Date(ev.at_ms || Date.now()).toISOString();
  const a = prev
    ? { ...prev }
    : {
        alert_id: ev.alert_id,
        resident_id: ev.resident_id ?? null,
        household_id: ev.household_id,
        opened_at: at,
        evidence: {},
        escalation_step: 0,
      };
  Object.assign(a, {
    level: ev.level || a.level,
    status: ev.status || a.status,
    condition: ev.condition || a.condition,
    title: ev.title || a.title,
    updated_at: at,
  });
  if (ev.kind === 'acknowledged' && !a.acknowledged_at) a.acknowledged_at = at;
  const wasCritical = prev && isActive(prev) && prev.level === 'critical';
  const newCritical =
    a.level === 'critical' && a.status === 'open' && !wasCritical &&
    (!prev || ev.kind === 'opened' || ev.kind === 'level_raised' || levelRank(prev.level) < levelRank('critical'));
  state.alerts.set(a.alert_id, a);
  state.liveAlerts.add(a.alert_id);
  emit('alert', { alert: a, event: ev, newCritical });
  // The event carries no "who": fetch the alert (once per burst of events).
  clearTimeout(pendingDetail.get(a.alert_id));
  pendingDetail.set(
    a.alert_id,
    setTimeout(async () => {
      pendingDetail.delete(a.alert_id);
      try {
        const d = await api(`/alerts/${a.alert_id}`);
        const cur = state.alerts.get(a.alert_id);
        if (cur && Date.parse(cur.updated_at) > Date.parse(d.alert.updated_at) + 1000) return;
        state.alerts.set(a.alert_id, d.alert);
        emit('alert', { alert: d.alert, event: null, newCritical: false, detail: d });
      } catch {
        /* it may have left our scope */
      }
    }, 150),
  );
  return { alert: a, newCritical };
}

/** How many vitals events arrived, and their delay from measurement (for measurements). */
export const counters = { vitalsEvents: 0, lagMs: [], lagged: 0 };

/** Applies one live `vitals` event. */
export function applyVitalsEvent(v) {
  if (!state.residents.has(v.resident_id)) return;
  state.lastVitalsEventAt = Date.now();
  if (!v.measured_at && Number.isFinite(v.measured_ms)) v = { ...v, measured_at: new Date(v.measured_ms).toISOString() };
  counters.vitalsEvents++;
  if (counters.lagMs.length < 50_000) counters.lagMs.push(Date.now() - Date.parse(v.measured_at));
  setLatestPoint(v.resident_id, v);
  state.latestLoaded.add(v.resident_id);
  emit('vitals', { ids: [v.resident_id] });
}

/** After an action on an alert: take the answer as the truth at once. */
export function putAlert(alert) {
  state.alerts.set(alert.alert_id, alert);
  emit('alert', { alert, event: null, newCritical: false });
}
