// Shared helpers of the console's browser tests: start the demo server on free ports with its
// own data folder, launch Debian's Chromium through playwright-core, sign in, save screenshots.
// Every wait is bounded and waits on a condition, never on the clock.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = process.env.CONSOLE_ARTIFACTS || join(here, '..', 'test-artifacts');
export const PASSWORD = 'console-test-pw';
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });

function serverBinary() {
  if (process.env.ELDERCARE_SERVER_BIN) return process.env.ELDERCARE_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(here, '..', '..', 'target');
  return join(target, 'debug', 'eldercare-server');
}

/**
 * Starts `eldercare-server demo` and resolves once it printed its HTTP address.
 * Returns { base, mqtt, dataDir, stop() }. `dataDir` may be given to reuse a folder.
 */
export async function startDemo({ speed = 20, dataDir, timeoutMs = 60_000 } = {}) {
  const dir = dataDir || mkdtempSync(join(tmpdir(), 'eldercare-console-'));
  const args = ['demo', '--http-addr', '127.0.0.1:0', '--mqtt-addr', '127.0.0.1:0', '--data-dir', dir, '--demo-password', PASSWORD, '--speed', String(speed)];
  const child = spawn(serverBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve({ code, sig })));
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const http = /HTTP API\s+(http:\/\/\S+?)\/api\/v1/.exec(out);
      const mqtt = /MQTT\s+(mqtt:\/\/\S+)/.exec(out);
      if (http && mqtt) resolve({ base: http[1], mqtt: mqtt[1] });
    });
    exited.then(({ code, sig }) => reject(new Error(`demo exited (${code ?? sig}) before it was ready:\n${out}\n${err.slice(-4000)}`)));
  });
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error(`demo not ready within ${timeoutMs} ms:\n${out}\n${err.slice(-4000)}`)), timeoutMs).unref());
  let addr;
  try {
    addr = await Promise.race([ready, timer]);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  return {
    ...addr,
    dataDir: dir,
    pid: child.pid,
    logs: () => err,
    /** Stops the demo gracefully (SIGINT, as Ctrl-C), then forcibly if it hangs. */
    async stop({ keepData = Boolean(dataDir) } = {}) {
      process.removeListener('exit', kill);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(t);
      }
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const LAUNCH_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
}

/**
 * A new browser context and page, with every request checked to stay on the server's origin
 * (the console must work on a closed network) and page errors collected.
 */
export async function newPage(browser, base, { locale = 'en-US', timezoneId = 'Asia/Shanghai', viewport = { width: 1366, height: 900 }, hasTouch = false } = {}) {
  const context = await browser.newContext({ locale, timezoneId, viewport, hasTouch });
  const page = await context.newPage();
  const origin = new URL(base).origin;
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:')) problems.push(`request outside the server: ${u}`);
  });
  page.setDefaultTimeout(15_000);
  return { context, page, problems };
}

/** Signs in through the login form and waits until the console is usable. */
export async function signIn(page, base, username, { path = '/' } = {}) {
  await page.goto(base + path);
  await page.locator('#login-user').fill(username);
  await page.locator('#login-pass').fill(PASSWORD);
  await page.locator('form.login-card button[type=submit]').click();
  await page.locator('html[data-ready="1"]').waitFor({ state: 'attached' });
  await page.locator('#live-state[data-state="live"]').waitFor();
}

export async function shot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
}

/** Calls the API directly (for setup and cross-checks). */
export async function apiLogin(base, username) {
  const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  if (!res.ok) throw new Error(`login ${username}: HTTP ${res.status}`);
  const { access_token } = await res.json();
  return async (path, init = {}) => {
    // The API limits each account's request rate: wait as told and try again (a bounded number of times).
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(`${base}/api/v1${path}`, { ...init, headers: { ...(init.headers || {}), authorization: `Bearer ${access_token}`, 'content-type': 'application/json' } });
      if (r.status === 429 && attempt < 30) {
        await r.arrayBuffer();
        await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('retry-after') || 1)));
        continue;
      }
      return { status: r.status, body: r.status === 204 ? null : await r.json().catch(() => null) };
    }
  };
}

/**
 * Waits until `fn(arg)`, evaluated in the page, is truthy: polls every 50 ms, at most
 * `timeout` ms. (page.waitForFunction needs eval, which the console's CSP rightly forbids.)
 */
export async function until(page, fn, arg, { timeout = 15_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeout} ms: ${fn}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
