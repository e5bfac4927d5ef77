// What a family account can reach: only the resident in its care circle. Chen Mei's page, asked
// for by family1 (who follows Wang Jianguo), shows "not found" and none of her data; the console
// does not even ask for her vitals. The same page works for the caregiver.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launch, newPage, signIn, shot, apiLogin, until } from './support.mjs';

let demo;
let browser;
let chenId;
let wangId;

before(async () => {
  demo = await startDemo({ speed: 10 });
  browser = await launch();
  const asStaff = await apiLogin(demo.base, 'caregiver');
  const residents = (await asStaff('/residents')).body;
  chenId = residents.find((r) => r.full_name === 'Chen Mei').resident_id;
  wangId = residents.find((r) => r.full_name === 'Wang Jianguo').resident_id;
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test("a family account cannot reach another resident's page", { timeout: 120_000 }, async () => {
  const { page, context, problems } = await newPage(browser, demo.base);
  const asked = [];
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/api/')) asked.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
  });
  await signIn(page, demo.base, 'family1');
  const cards = page.locator('article.card');
  await cards.first().waitFor();
  assert.deepEqual(await cards.locator('.name').allInnerTexts(), ['Wang Jianguo']);
  assert.equal(await page.locator('#nav a[data-nav="stats"]').count(), 0, 'no statistics for families');

  asked.length = 0;
  await page.evaluate((id) => { location.hash = `#/residents/${id}`; }, chenId);
  await page.locator('section.not-found').waitFor();
  assert.equal(await page.locator('#nf-title').innerText(), 'Resident not found');
  const text = await page.locator('#view').innerText();
  assert.doesNotMatch(text, /Chen Mei|Birch Road|Glucose|bpm/);
  assert.equal(await page.locator('.tiles, .charts, .chart, .devices-table').count(), 0);
  const aboutHer = asked.filter((a) => a.includes(`/residents/${chenId}`));
  assert.deepEqual(aboutHer, [`GET /api/v1/residents/${chenId} 404`], 'only the resident itself is asked for, and refused');
  await shot(page, 'scope-1-family-not-found');

  // Loading the address directly (a bookmark, a reload) gives the same.
  await page.goto(`${demo.base}/console/#/residents/${chenId}`);
  await page.locator('section.not-found').waitFor();
  // And so does an id that does not exist at all: the two cannot be told apart.
  await page.evaluate(() => { location.hash = '#/residents/999999'; });
  await page.locator('section.not-found').waitFor();

  // His own father's page works.
  await page.evaluate((id) => { location.hash = `#/residents/${id}`; }, wangId);
  await page.locator('#res-title', { hasText: 'Wang Jianguo' }).waitFor();
  await page.locator('.tile').first().waitFor();
  assert.equal(await page.locator('button.edit-thresholds').count(), 0, 'families do not edit thresholds');
  await page.locator('.chart-box svg.chart').first().waitFor();
  await shot(page, 'scope-2-family-own-resident');

  // Statistics are for staff: the address leads back to the wall.
  await page.evaluate(() => { location.hash = '#/stats'; });
  await page.waitForURL(/#\/wall$/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("the caregiver sees Chen Mei's page, with charts, devices, care circle and thresholds", { timeout: 120_000 }, async () => {
  const { page, context, problems } = await newPage(browser, demo.base);
  await signIn(page, demo.base, 'caregiver', { path: `/console/#/residents/${chenId}` });
  await page.locator('#res-title', { hasText: 'Chen Mei' }).waitFor();
  await page.locator('.tile[data-metric="heart_rate"]').waitFor();
  await page.locator('.chart-box[data-metric="heart_rate"] svg.chart path.line').waitFor();
  await page.locator('.devices-table tr[data-device="fp-chen-01"]').waitFor();
  await page.locator('ul.circle li', { hasText: 'Chen Jing' }).waitFor();
  for (const range of ['Week', 'Month', 'Hour']) {
    await page.locator('.resident button.tab', { hasText: range }).click();
    await page.locator('.chart-box[data-metric="heart_rate"] svg.chart').waitFor();
  }
  await shot(page, 'scope-3-caregiver-resident-page');

  // Thresholds: a caregiver may change them; the chart's band moves with them.
  await page.locator('button.edit-thresholds').click();
  await page.locator('form.threshold-form input[name="pulse_critical_high"]').fill('120');
  await page.locator('form.threshold-form button[type="submit"]').click();
  await page.locator('table.thresholds tr[data-key="pulse_critical_high"] .tag').waitFor().catch(async (e) => { await shot(page, 'debug-thresholds'); console.log('toasts:', await page.locator('#toasts').innerText()); throw e; });
  assert.match(await page.locator('table.thresholds tr[data-key="pulse_critical_high"]').innerText(), /120/);
  const asStaff = await apiLogin(demo.base, 'caregiver');
  const th = await asStaff(`/residents/${chenId}/thresholds`);
  assert.equal(th.body.overrides.pulse_critical_high, 120);
  await page.locator('.chart-box[data-metric="heart_rate"] .band-label', { hasText: '≥ 120' }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test('the session is renewed before the access token expires, and sign-out ends it', { timeout: 120_000 }, async () => {
  const { page, context, problems } = await newPage(browser, demo.base);
  await signIn(page, demo.base, 'caregiver');
  const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem('eldercare.session')));
  assert.ok(before.access_token && before.refresh_token);
  // Pretend the access token is about to expire, as it would be after most of its lifetime.
  await page.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('eldercare.session'));
    s.expires_at = Date.now() + 10_000;
    sessionStorage.setItem('eldercare.session', JSON.stringify(s));
  });
  const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/refresh') && r.status() === 200);
  await page.reload();
  await refreshed;
  await page.locator('html[data-ready="1"]').waitFor({ state: 'attached' });
  // The refresh token is new (an access token issued in the same second may look the same).
  await until(page, (old) => JSON.parse(sessionStorage.getItem('eldercare.session')).refresh_token !== old, before.refresh_token);
  await page.evaluate(() => { location.hash = '#/alerts'; });
  await page.locator('#inbox-title').waitFor();
  assert.equal(await page.locator('#login-user').count(), 0, 'still signed in');

  const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem('eldercare.session')));
  await page.locator('#logout').click();
  await page.locator('#login-user').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('eldercare.session')), null);
  const res = await fetch(`${demo.base}/api/v1/me`, { headers: { authorization: `Bearer ${after.access_token}` } });
  assert.equal(res.status, 401, 'the old token no longer works after signing out');
  assert.deepEqual(problems, []);
  await context.close();
});
