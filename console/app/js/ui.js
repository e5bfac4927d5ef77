// Page-wide feedback: short toasts, and the flash (and optional sound) of a new critical alert.

import { h } from './dom.js';
import { t } from './i18n.js';

export function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div.toast', { dataset: { kind }, role: kind === 'error' ? 'alert' : 'status' }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 4000);
}

let soundOn = sessionStorage.getItem('eldercare.sound') === '1';
let audio = null;

export function soundEnabled() {
  return soundOn;
}

export function setSound(on) {
  soundOn = on;
  sessionStorage.setItem('eldercare.sound', on ? '1' : '0');
  if (on) beep(0.05); // unlocks audio with the user's click
}

function beep(gain = 0.2) {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, f] of [880, 660, 880].entries()) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(gain, now + i * 0.22);
      g.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.22 + 0.2);
      o.connect(g).connect(audio.destination);
      o.start(now + i * 0.22);
      o.stop(now + i * 0.22 + 0.21);
    }
  } catch {
    /* no audio: the flash is enough */
  }
}

/** A new critical alert: a banner that stays until dismissed, a flash, and a sound if wanted. */
export function flashCritical({ alertId, who, what }) {
  const bar = document.getElementById('flash');
  if (!bar) return;
  const item = h('div.flash-item', { dataset: { alertId } },
    h('span.flash-icon', { 'aria-hidden': 'true' }, '‼'),
    h('span.flash-text', t('flash.new_critical', { who, what })),
    h('a.flash-open', { href: '#/alerts', onclick: () => dismiss() }, t('flash.open')),
    h('button.flash-close', { type: 'button', 'aria-label': t('flash.dismiss'), onclick: () => dismiss() }, '×'));
  function dismiss() {
    item.remove();
    if (!bar.childElementCount) bar.hidden = true;
  }
  for (const old of bar.querySelectorAll(`[data-alert-id="${CSS.escape(String(alertId))}"]`)) old.remove();
  bar.prepend(item);
  while (bar.childElementCount > 3) bar.lastElementChild.remove();
  bar.hidden = false;
  document.body.classList.remove('flashing');
  void document.body.offsetWidth; // restart the animation
  document.body.classList.add('flashing');
  setTimeout(() => document.body.classList.remove('flashing'), 3200);
  if (soundOn) beep();
}

/** Removes the banner of an alert someone has acknowledged or resolved. */
export function unflash(alertId) {
  const bar = document.getElementById('flash');
  if (!bar) return;
  for (const old of bar.querySelectorAll(`[data-alert-id="${CSS.escape(String(alertId))}"]`)) old.remove();
  if (!bar.childElementCount) bar.hidden = true;
}

export function clearFlash() {
  const bar = document.getElementById('flash');
  if (bar) {
    bar.replaceChildren();
    bar.hidden = true;
  }
}
