// The API client: tokens in memory and sessionStorage (never localStorage: a closed tab forgets
// them), a refresh shortly before the access token expires, one retry after a 401.

const KEY = 'eldercare.session';
const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || null;
  }
}

/** Fired as `expired` when the session cannot be renewed. */
export const sessionEvents = new EventTarget();

let session = null; // { access_token, refresh_token, expires_at }
let refreshing = null;
let timer = null;

export function restoreSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    if (s && s.access_token && s.refresh_token) {
      session = s;
      schedule();
      return true;
    }
  } catch {
    /* a damaged entry is as good as none */
  }
  return false;
}

export function hasSession() {
  return session !== null;
}

export function accessToken() {
  return session ? session.access_token : null;
}

function save(tokens) {
  session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + Number(tokens.expires_in || 900) * 1000,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  schedule();
}

export function clearSession() {
  session = null;
  clearTimeout(timer);
  timer = null;
  sessionStorage.removeItem(KEY);
}

function schedule() {
  clearTimeout(timer);
  if (!session) return;
  const left = session.expires_at - Date.now();
  // Renew when 80 % of the lifetime has passed, and at least 30 s before the end.
  const lead = Math.max(30_000, left * 0.2);
  timer = setTimeout(() => refresh().catch(() => {}), Math.max(0, left - lead));
}

export async function login(username, password) {
  const res = await fetch(`${BASE}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  save(await res.json());
}

/** Exchanges the refresh token for a new pair; concurrent callers share one exchange. */
export function refresh() {
  if (!session) return Promise.reject(new ApiError(401, null));
  if (!refreshing) {
    const token = session.refresh_token;
    refreshing = (async () => {
      try {
        const res = await fetch(`${BASE}/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: token }),
        });
        if (res.status === 401 || res.status === 400 || res.status === 422) {
          clearSession();
          sessionEvents.dispatchEvent(new Event('expired'));
          throw new ApiError(401, await problemOf(res));
        }
        if (!res.ok) throw new ApiError(res.status, await problemOf(res));
        save(await res.json());
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

/**
 * Calls the API. `path` is relative to /api/v1 unless it starts with /api/. Answers the parsed
 * JSON (null for an empty body); throws ApiError for any status that is not 2xx.
 */
export async function api(path, { method = 'GET', body, signal, query } = {}) {
  let url = path.startsWith('/api/') ? path : `${BASE}${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const qs = q.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  for (let attempt = 0; ; attempt++) {
    if (session && session.expires_at - Date.now() < 5_000) await refresh().catch(() => {});
    const headers = { accept: 'application/json' };
    if (session) headers.authorization = `Bearer ${session.access_token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
    if (res.status === 429 && method === 'GET' && attempt < 2) {
      // Over the account's request rate: wait as told (briefly) and ask once more.
      const wait = Math.min(5, Number(res.headers.get('retry-after')) || 1);
      await new Promise((r) => setTimeout(r, wait * 1000));
      continue;
    }
    if (res.status === 401 && attempt === 0 && session) {
      try {
        await refresh();
        continue;
      } catch {
        /* fall through to the error */
      }
    }
    if (!res.ok) throw new ApiError(res.status, await problemOf(res));
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

/** Best effort: tell the server the session is over (when it has a logout), then forget it. */
export async function logout(logoutPath) {
  if (session && logoutPath) {
    try {
      await api(logoutPath, { method: 'POST', body: { refresh_token: session.refresh_token } });
    } catch {
      /* the tokens are dropped anyway */
    }
  }
  clearSession();
}
