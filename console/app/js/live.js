// The live stream: Server-Sent Events read with fetch() (EventSource cannot send the bearer
// token), reconnecting with backoff. Events named `alert`, `vitals` and `lagged` are passed on.

import { accessToken, refresh } from './api.js';

const STALL_MS = 45_000; // the server sends a keep-alive every 15 s

/**
 * Starts following /api/v1/live. `onEvent(name, data, id)` for each event; `onState(state)` with
 * 'connecting' | 'live' | 'reconnecting' | 'off'; `onOpen()` after each (re)connection, so the
 * caller can reload what it may have missed. Returns { stop() }.
 */
export function startLive({ onEvent, onState, onOpen }) {
  let stopped = false;
  let controller = null;
  let backoff = 1000;

  async function loop() {
    while (!stopped) {
      onState('connecting');
      controller = new AbortController();
      let stallTimer = null;
      const kick = () => {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => controller.abort(), STALL_MS);
      };
      try {
        const token = accessToken();
        if (!token) break;
        const res = await fetch('/api/v1/live', {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          await refresh();
          continue;
        }
        if (!res.ok || !res.body) throw new Error(`live stream: HTTP ${res.status}`);
        onState('live');
        backoff = 1000;
        kick();
        onOpen && onOpen();
        await readEvents(res.body, (name, data, id) => {
          kick();
          if (name) onEvent(name, data, id);
        });
      } catch (e) {
        if (stopped) break;
        if (e && e.status === 401) break; // the session is over; the app signs out
      } finally {
        clearTimeout(stallTimer);
      }
      if (stopped) break;
      onState('reconnecting');
      await new Promise((r) => setTimeout(r, backoff + Math.random() * 500));
      backoff = Math.min(backoff * 2, 30_000);
    }
    onState('off');
  }

  loop();
  return {
    stop() {
      stopped = true;
      if (controller) controller.abort();
    },
  };
}

/** Parses an event stream (the WHATWG format): calls `emit(name, data, id)` per event. */
export async function readEvents(body, emit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let name = '';
  let data = [];
  let id = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      if (buf[nl] === '\r' && nl === buf.length - 1) break; // maybe half of a CRLF
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' && buf[nl + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length) emit(name || 'message', data.join('\n'), id);
        else emit('', '', id); // a keep-alive: still proves the connection is up
        name = '';
        data = [];
        continue;
      }
      if (line[0] === ':') {
        emit('', '', id);
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? '' : line.slice(colon + 1);
      if (val[0] === ' ') val = val.slice(1);
      if (field === 'event') name = val;
      else if (field === 'data') data.push(val);
      else if (field === 'id') id = val;
    }
  }
}
