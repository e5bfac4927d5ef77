// What a family account can reach: only the resident in its care circle. Chen Mei's page, asked
// for by family1 (who follows Wang Jianguo), shows "not found" and none of her data; the console
// does not even ask for her vitals. The same page works for the caregiver, and a resident whose
// personal baseline the rules have learnt has it drawn as a band on the charts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launch, newPage, signIn, shot, apiLogin, until } from './support.mjs';
import { connect } from './mqtt.mjs';

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

test('a learnt personal baseline is drawn as a band on the chart, labelled in the legend', { timeout: 180_000 }, async () => {
  // A new resident wearing a heart-rate band, and 15 past days of daytime pulse sent as her
  // gateway would: the rules learn her usual pulse (70 /min, band ±10 /min). Each day is sent once
  // the one before is stored, so the rules see the days in order.
  const staff = await apiLogin(demo.base, 'caregiver');
  const why = (r) => JSON.stringify(r.body);
  const grid = (await staff('/residents')).body.find((r) => r.full_name === 'Chen Mei').grid_id;
  const home = await staff('/households', { method: 'POST', body: JSON.stringify({ org_unit_id: grid, name: 'No. 2 Baseline Lane' }) });
  assert.equal(home.status, 201, why(home));
  const gw = await staff('/gateways', { method: 'POST', body: JSON.stringify({ gateway_id: 'gw-baseline', household_id: home.body.household_id }) });
  assert.equal(gw.status, 201, why(gw));
  const res = await staff('/residents', { method: 'POST', body: JSON.stringify({ household_id: home.body.household_id, full_name: 'Sun Lan', birth_year: 1940 }) });
  assert.equal(res.status, 201, why(res));
  const rid = res.body.resident_id;
  const dev = await staff('/devices', { method: 'POST', body: JSON.stringify({ device_id: 'hr-sun-01', kind: 'heart_rate_band', gateway_id: 'gw-baseline', resident_id: rid }) });
  assert.equal(dev.status, 201, why(dev));

  const mq = await connect(demo.mqtt, 'console-baseline-test');
  const HOUR = 3600_000;
  const DAY = 24 * HOUR;
  const today = Math.floor((Date.now() + 8 * HOUR) / DAY); // Shanghai days
  let seq = 1;
  for (let d = 15; d >= 1; d--) {
    const readings = [];
    for (let h = 8; h < 20; h++) {
      const time_ms = (today - d) * DAY - 8 * HOUR + h * HOUR;
      readings.push({ seq: seq++, device_id: 'hr-sun-01', metric: 'heart_rate', value: [66, 70, 74, 70, 71, 69][h % 6], time_ms });
    }
    mq.publish('eldercare/v1/gw/gw-baseline/readings', { v: 1, gateway_id: 'gw-baseline', batch_id: seq, sent_ms: Date.now(), readings });
    // Stored (and judged by the rules) before the next day goes.
    const lastAt = new Date(readings[readings.length - 1].time_ms).toISOString();
    for (let i = 0; ; i++) {
      const got = await staff(`/residents/${rid}/vitals?metric=heart_rate&resolution=raw&from=${encodeURIComponent(lastAt)}`);
      if (got.status === 200 && got.body.points.length > 0) break;
      assert.ok(i < 200, `day -${d} not stored: ${why(got)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  mq.close();
  const learnt = await staff(`/residents/${rid}/baselines`);
  assert.equal(learnt.status, 200, why(learnt));
  const hr = learnt.body.baselines.find((b) => b.metric === 'heart_rate');
  assert.equal(hr.learning, false, why(learnt));
  assert.deepEqual([hr.median, hr.low, hr.high], [70, 60, 80], why(learnt));

  const { page, context, problems } = await newPage(browser, demo.base);
  await signIn(page, demo.base, 'caregiver', { path: `/console/#/residents/${rid}?range=week` });
  await page.locator('#res-title', { hasText: 'Sun Lan' }).waitFor();
  const box = page.locator('.chart-box[data-metric="heart_rate"]');
  await box.locator('svg.chart rect.baseline-band').waitFor();
  await box.locator('svg.chart line.baseline-median').waitFor({ state: 'attached' }); // a line has no height: never "visible"
  assert.equal(await box.locator('.chart-legend .legend-baseline').innerText(), 'Usual range (personal baseline) 60–80 bpm');
  // The band spans 60 to 80 on the chart's own scale: its edges sit where those values are.
  const [bandTop, bandHeight, medianY] = await box.evaluate((el) => {
    const r = el.querySelector('rect.baseline-band');
    return [Number(r.getAttribute('y')), Number(r.getAttribute('height')), Number(el.querySelector('line.baseline-median').getAttribute('y1'))];
  });
  assert.ok(bandHeight > 10, `a visible band (${bandHeight} px)`);
  assert.ok(Math.abs(medianY - (bandTop + bandHeight / 2)) < 0.5, 'the median lies in the middle of the band');
  await shot(page, 'scope-4-baseline-band');

  // The same in Chinese.
  await page.locator('#lang-select').selectOption('zh-CN');
  await box.locator('.chart-legend .legend-baseline', { hasText: '个人基线正常范围' }).waitFor();
  await page.locator('#lang-select').selectOption('en');
  assert.deepEqual(problems, []);
  await context.close();
});
