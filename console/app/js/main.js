// The console: sign-in, the shell (navigation, language, sound, live state), the router, and the
// live stream feeding the shared state.

import { h, fill } from './dom.js';
import { t, detectLang, setLang, getLang, applyStatic } from './i18n.js';
import { restoreSession, logout, sessionEvents, clearSession, ApiError } from './api.js';
import { state, on, isStaff, loadCaps, loadMe, loadResidents, loadAlerts, loadOrg, loadDevices, loadLatest, applyAlertEvent, applyVitalsEvent, counters } from './state.js';
import { startLive } from './live.js';
import { flashCritical, unflash, setSound, soundEnabled, clearFlash, toast } from './ui.js';
import { getTimeZone, resetFormats } from './fmt.js';
import { conditionLabel } from './alerting.js';
import * as loginView from './views/login.js';
import * as wallView from './views/wall.js';
import * as inboxView from './views/inbox.js';

const view = document.getElementById('view');
let current = null;
let live = null;
let poller = 0;
let started = false;

const routes = [
  [/^#\/wall$/, () => wallView, 'wall'],
  [/^#\/alerts$/, () => inboxView, 'alerts'],
  [/^#\/residents\/([^/?]+)$/, () => import('./views/resident.js'), 'wall'],
  [/^#\/stats$/, () => import('./views/stats.js'), 'stats'],
];

async function route() {
  if (!started) return;
  const [path, qs] = (location.hash || '#/wall').split('?');
  const query = new URLSearchParams(qs || '');
  let found = null;
  for (const [re, load, nav] of routes) {
    const m = re.exec(path);
    if (m) {
      found = { load, nav, id: m[1] ? decodeURIComponent(m[1]) : null };
      break;
    }
  }
  if (!found || (found.nav === 'stats' && !isStaff())) {
    location.replace('#/wall');
    return;
  }
  const mod = await found.load();
  if (current) current.unmount();
  current = mod.mount(view, { id: found.id, query });
  for (const a of document.querySelectorAll('#nav a')) a.setAttribute('aria-current', a.dataset.nav === found.nav ? 'page' : 'false');
  document.title = `${t(`nav.${found.nav}`)} · ${t('app.name')}`;
}

function renderShell() {
  document.documentElement.lang = getLang();
  applyStatic(document);
  const links = [['wall', '#/wall'], ['alerts', '#/alerts']];
  if (isStaff()) links.push(['stats', '#/stats']);
  const nav = document.getElementById('nav');
  fill(nav, ...links.map(([k, href]) => h('a', { href, dataset: { nav: k } }, t(`nav.${k}`), k === 'alerts' ? h('span.count#alert-count', { hidden: true }) : null)));
  const me = state.me;
  fill(document.getElementById('me'), me ? `${me.display_name} · ${t(`role.${me.role}`, null, me.role)}` : '', h('span.tz', { title: t('tz.title') }, ` · ${getTimeZone()}`));
  document.getElementById('logout').textContent = t('nav.logout');
  const snd = document.getElementById('sound-toggle');
  snd.textContent = soundEnabled() ? t('sound.on') : t('sound.off');
  snd.setAttribute('aria-pressed', String(soundEnabled()));
  document.getElementById('lang-select').value = getLang();
  renderLiveState();
  renderCount();
}

function renderLiveState() {
  const el = document.getElementById('live-state');
  el.dataset.state = state.liveState;
  el.textContent = t(`live.${state.liveState}`);
}

function renderCount() {
  const el = document.getElementById('alert-count');
  if (!el) return;
  let n = 0;
  let crit = false;
  for (const a of state.alerts.values()) {
    if (a.status === 'open') {
      n++;
      if (a.level === 'critical') crit = true;
    }
  }
  el.hidden = n === 0;
  el.textContent = String(n);
  el.dataset.critical = String(crit);
  el.setAttribute('aria-label', t('nav.open_count', { n }));
}

function showLogin(message) {
  started = false;
  if (current) current.unmount();
  current = null;
  document.getElementById('topbar').hidden = true;
  clearFlash();
  current = loginView.mount(view, { onSignedIn: () => start() });
  document.title = `${t('login.title')} · ${t('app.name')}`;
  if (message) toast(message, 'error');
}

async function start() {
  performance.mark('console-start');
  await Promise.all([loadCaps(), loadMe()]);
  // Residents are essential; alerts and the organisation tree degrade to nothing.
  await Promise.all([loadResidents(), loadAlerts().catch((e) => console.warn('alerts unavailable', e)), loadOrg()]);
  loadDevices();
  started = true;
  document.getElementById('topbar').hidden = false;
  renderShell();
  if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.replace('#/wall');
  await route();
  performance.mark('console-usable');
  document.documentElement.dataset.ready = '1';
  startLiveStream();
  startPolling();
  // The rest of the newest vitals (for the counts and filters of the wall), when it is one call.
  if (state.caps.dashboard) {
    const rest = () => loadLatest([...state.residents.keys()].filter((id) => !state.latestLoaded.has(id)));
    'requestIdleCallback' in window ? requestIdleCallback(rest, { timeout: 2000 }) : setTimeout(rest, 500);
  }
}

function startLiveStream() {
  if (live) live.stop();
  let opened = 0;
  live = startLive({
    onState: (s) => {
      state.liveState = s;
      renderLiveState();
    },
    onOpen: () => {
      // What happened while we were not connected.
      if (opened++ > 0) loadAlerts().catch(() => {});
    },
    onEvent: (name, data) => {
      let ev;
      try {
        ev = JSON.parse(data);
      } catch {
        ev = null;
      }
      if (name === 'alert' && ev) {
        const { alert, newCritical } = applyAlertEvent(ev);
        if (newCritical) {
          const r = state.residents.get(alert.resident_id);
          flashCritical({ alertId: alert.alert_id, who: r ? r.full_name : t('inbox.household', { id: alert.household_id }), what: conditionLabel(alert) });
        }
        // Until vitals arrive on the stream, an alert is the cue to fetch the resident's vitals.
        if (alert.resident_id && Date.now() - state.lastVitalsEventAt > 60_000) loadLatest([alert.resident_id]);
      } else if (name === 'vitals' && ev) {
        applyVitalsEvent(ev);
      } else if (name === 'lagged') {
        // The server dropped events for us: reload what they would have changed.
        counters.lagged += Number(data) || 1;
        loadAlerts().catch(() => {});
        if (state.caps.dashboard) loadLatest([...state.latestLoaded]);
      }
    },
  });
}

/** Fallback while the stream carries no vitals: refresh loaded residents' vitals every 30 s. */
function startPolling() {
  clearInterval(poller);
  let cursor = 0;
  poller = setInterval(() => {
    if (Date.now() - state.lastVitalsEventAt < 60_000) return;
    const ids = [...state.latestLoaded];
    if (!ids.length) return;
    const batch = [];
    for (let i = 0; i < Math.min(100, ids.length); i++) batch.push(ids[(cursor + i) % ids.length]);
    cursor = (cursor + batch.length) % ids.length;
    loadLatest(batch, { concurrency: 4 });
  }, 30_000);
}

function stopAll() {
  if (live) live.stop();
  live = null;
  clearInterval(poller);
  state.alerts.clear();
  state.residents.clear();
  state.latest.clear();
  state.latestLoaded.clear();
  state.liveAlerts.clear();
  state.me = null;
}

function wireShell() {
  document.getElementById('logout').addEventListener('click', async () => {
    await logout(state.caps.logout);
    stopAll();
    location.hash = '';
    showLogin();
  });
  document.getElementById('sound-toggle').addEventListener('click', () => {
    setSound(!soundEnabled());
    renderShell();
  });
  document.getElementById('lang-select').addEventListener('change', (e) => {
    setLang(e.target.value, true);
    resetFormats();
    renderShell();
    route();
  });
  sessionEvents.addEventListener('expired', () => {
    stopAll();
    showLogin(t('login.expired'));
  });
  window.addEventListener('hashchange', route);
  on('alert', ({ alert }) => {
    renderCount();
    if (alert.status !== 'open') unflash(alert.alert_id);
  });
  // The banner of new critical alerts sits right under the top bar, whatever its height.
  new ResizeObserver(([e]) => document.documentElement.style.setProperty('--topbar-h', `${Math.round(e.target.getBoundingClientRect().height)}px`)).observe(document.getElementById('topbar'));
  on('alerts', renderCount);
}

async function boot() {
  setLang(detectLang(), false);
  document.documentElement.lang = getLang();
  applyStatic(document);
  wireShell();
  if (restoreSession()) {
    try {
      await start();
      return;
    } catch (e) {
      clearSession();
      stopAll();
      if (!(e instanceof ApiError && e.status === 401)) console.warn('console start failed', e);
    }
  }
  showLogin();
}

// For tests and measurements: the console's state, read-only by convention.
window.__eldercare = {
  state,
  applyVitalsEvent,
  applyAlertEvent,
  stats: () => counters,
  resetStats: () => {
    counters.vitalsEvents = 0;
    counters.lagMs = [];
    counters.lagged = 0;
  },
};

boot();
