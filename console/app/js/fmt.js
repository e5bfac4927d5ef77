// Times, numbers and ages, in the community's time zone and the chosen language.

import { getLang } from './i18n.js';

export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';
let timeZone = DEFAULT_TIME_ZONE;
const cache = new Map();

/** Sets the time zone of every time shown (an IANA name); ignores one the browser does not know. */
export function setTimeZone(zone) {
  if (!zone) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    return false;
  }
  timeZone = zone;
  cache.clear();
  return true;
}

export function getTimeZone() {
  return timeZone;
}

function dtf(kind) {
  const key = `${getLang()}|${timeZone}|${kind}`;
  let f = cache.get(key);
  if (!f) {
    const base = { timeZone, hourCycle: 'h23' };
    const opts = {
      time: { hour: '2-digit', minute: '2-digit' },
      seconds: { hour: '2-digit', minute: '2-digit', second: '2-digit' },
      datetime: { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' },
      date: { month: 'short', day: 'numeric' },
      weekday: { weekday: 'short', day: 'numeric' },
      full: { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' },
      parts: { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' },
    }[kind];
    f = new Intl.DateTimeFormat(kind === 'parts' ? 'en-US' : getLang(), { ...base, ...opts });
    cache.set(key, f);
  }
  return f;
}

/** Milliseconds since the epoch of an RFC 3339 string (or a number), or NaN. */
export function ms(t) {
  if (typeof t === 'number') return t;
  if (!t) return NaN;
  return Date.parse(t);
}

export const fmtTime = (t) => dtf('time').format(ms(t));
export const fmtTimeSec = (t) => dtf('seconds').format(ms(t));
export const fmtDateTime = (t) => dtf('datetime').format(ms(t));
export const fmtDate = (t) => dtf('date').format(ms(t));
export const fmtWeekday = (t) => dtf('weekday').format(ms(t));
export const fmtFull = (t) => dtf('full').format(ms(t));

/** A time today is shown as its time of day, an older one with its date. */
export function fmtWhen(t, now = Date.now()) {
  const m = ms(t);
  if (!Number.isFinite(m)) return '';
  return dayKey(m) === dayKey(now) ? fmtTime(m) : fmtDateTime(m);
}

/** Offset of the time zone from UTC at `t`, in milliseconds. */
export function tzOffsetMs(t) {
  const p = {};
  for (const part of dtf('parts').formatToParts(t)) p[part.type] = part.value;
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return asUtc - Math.floor(t / 1000) * 1000;
}

/** The calendar day of `t` in the time zone, as a number of days since the epoch. */
export function dayKey(t) {
  return Math.floor((t + tzOffsetMs(t)) / 86400000);
}

/** Start of the local day (in the time zone) containing `t`, as epoch milliseconds. */
export function startOfDay(t) {
  const off = tzOffsetMs(t);
  return Math.floor((t + off) / 86400000) * 86400000 - off;
}

/** "5 min ago", "刚刚"... */
export function fmtAgo(t, now = Date.now()) {
  const m = ms(t);
  if (!Number.isFinite(m)) return '';
  const s = Math.round((m - now) / 1000);
  const rtf = rtfFor();
  const a = Math.abs(s);
  if (a < 45) return rtf.format(0, 'second');
  if (a < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  return rtf.format(Math.round(s / 86400), 'day');
}

/** A duration, e.g. "3 min", "1 h 20 min". */
export function fmtDuration(msDur) {
  if (!Number.isFinite(msDur)) return '–';
  const lang = getLang();
  const zh = lang.startsWith('zh');
  const sec = Math.round(msDur / 1000);
  if (sec < 60) return zh ? `${sec} 秒` : `${sec} s`;
  const min = Math.round(sec / 60);
  if (min < 60) return zh ? `${min} 分钟` : `${min} min`;
  const hr = Math.floor(min / 60);
  const rest = min % 60;
  if (zh) return rest ? `${hr} 小时 ${rest} 分钟` : `${hr} 小时`;
  return rest ? `${hr} h ${rest} min` : `${hr} h`;
}

function rtfFor() {
  const key = `rtf|${getLang()}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.RelativeTimeFormat(getLang(), { numeric: 'auto', style: 'short' });
    cache.set(key, f);
  }
  return f;
}

export function fmtNumber(v, decimals = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const key = `num|${getLang()}|${decimals}`;
  let f = cache.get(key);
  if (!f) {
    f = new Intl.NumberFormat(getLang(), { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    cache.set(key, f);
  }
  return f.format(v);
}

/** Clears cached formatters (after a language change). */
export function resetFormats() {
  cache.clear();
}
