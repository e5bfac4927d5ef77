// What the console knows about alerts: levels and their order, a resident's status, labels.

import { t } from './i18n.js';

export const LEVELS = ['critical', 'urgent', 'warning', 'info'];
const RANK = { critical: 4, urgent: 3, warning: 2, info: 1 };

export function levelRank(level) {
  return RANK[level] || 0;
}

export function isActive(alert) {
  return alert && alert.status !== 'resolved';
}

/** Sorts alerts for the inbox: open before acknowledged, then by level, then oldest first. */
export function inboxOrder(a, b) {
  const open = (x) => (x.status === 'open' ? 1 : 0);
  return open(b) - open(a) || levelRank(b.level) - levelRank(a.level) || Date.parse(a.opened_at) - Date.parse(b.opened_at);
}

/** The condition as words: known codes are translated, others fall back to the server's title. */
export function conditionLabel(alert) {
  const c = String(alert.condition || '');
  const base = c.split(':')[0];
  const label = t(`cond.${base}`, null, '');
  if (!label) return alert.title || c;
  if (base === 'baseline') return `${label}: ${t(`metric.${c.slice(9)}`, null, c.slice(9))}`;
  return label;
}

export function levelLabel(level) {
  return t(`level.${level}`, null, level);
}

export function statusLabel(status) {
  return t(`status.${status}`, null, status);
}

/**
 * A resident's status from their active alerts (and their household's): the worst level, or
 * `ok`; `stale` when nothing was heard for a long time.
 */
export function residentStatus(alerts, lastSeenMs, now = Date.now()) {
  let worst = null;
  for (const a of alerts) {
    if (!isActive(a)) continue;
    if (!worst || levelRank(a.level) > levelRank(worst.level) || (a.level === worst.level && a.status === 'open' && worst.status !== 'open')) worst = a;
  }
  if (worst) return { level: worst.level, alert: worst, acknowledged: worst.status === 'acknowledged' };
  if (lastSeenMs && now - lastSeenMs > 6 * 3600_000) return { level: 'stale', alert: null };
  if (!lastSeenMs) return { level: 'nodata', alert: null };
  return { level: 'ok', alert: null };
}
