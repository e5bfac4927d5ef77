// A caregiver watches the inbox while the demo's story unfolds: a critical alert for Wang Jianguo
// (his SpO2 falls) arrives over the live stream and flashes; the caregiver acknowledges it in one
// click; his son (family1), signed in elsewhere, sees the acknowledgement (by the nurse's name)
// without reloading, with times in the community's zone although his browser is in New York. Then the caregiver resolves
// Chen Mei's fall with a note and snoozes an alert.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launch, newPage, signIn, shot, apiLogin } from './support.mjs';

let demo;
let browser;
const STORY_TIMEOUT = 180_000; // bounded wait for the story's alerts, at --speed 10

before(async () => {
  demo = await startDemo({ speed: 10 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('a critical alert arrives live, is acknowledged, and the family sees it', { timeout: 300_000 }, async () => {
  const cg = await newPage(browser, demo.base);
  await signIn(cg.page, demo.base, 'caregiver', { path: '/console/#/alerts' });
  await cg.page.locator('#inbox-title').waitFor();
  // Alerts present at sign-in are not "live"; the one we wait for must come over the stream.
  const wang = cg.page.locator('article.alert[data-level="critical"][data-live="1"]', { hasText: 'Wang Jianguo' });
  await wang.waitFor({ timeout: STORY_TIMEOUT });
  const alertId = await wang.getAttribute('data-alert-id');
  await cg.page.locator('#flash .flash-item', { hasText: 'Wang Jianguo' }).waitFor();
  assert.match(await cg.page.locator('#flash').innerText(), /New critical alert: Wang Jianguo/);
  assert.equal(await wang.getAttribute('data-status'), 'open');
  await shot(cg.page, 'alerts-1-caregiver-critical-arrives');

  // His son signs in elsewhere (a browser in New York) and sees the alert, still open.
  const fam = await newPage(browser, demo.base, { timezoneId: 'America/New_York' });
  await signIn(fam.page, demo.base, 'family1', { path: '/console/#/alerts' });
  const famRow = fam.page.locator(`article.alert[data-alert-id="${alertId}"]`);
  await famRow.waitFor();
  assert.equal(await famRow.getAttribute('data-status'), 'open');
  assert.equal(await fam.page.locator('article.alert', { hasText: 'Chen Mei' }).count(), 0, 'family1 sees only his father');
  assert.equal(await famRow.locator('button.resolve').count(), 0, 'families cannot resolve');
  // Times are the community's (Asia/Shanghai), not the browser's.
  const asFamily = await apiLogin(demo.base, 'family1');
  const before = await asFamily(`/alerts/${alertId}`);
  assert.equal(before.status, 200);
  const opened = Date.parse(before.body.alert.opened_at);
  const hhmm = (tz) => new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(opened);
  const meta = await famRow.locator('.meta').innerText();
  assert.ok(meta.includes(hhmm('Asia/Shanghai')), `"${meta}" shows ${hhmm('Asia/Shanghai')}`);
  assert.ok(!meta.includes(hhmm('America/New_York')), `"${meta}" does not show New York time`);
  await shot(fam.page, 'alerts-2-family-sees-open-alert');

  // One click: acknowledged, by "you".
  await cg.page.locator(`article.alert[data-alert-id="${alertId}"] button.ack`).click();
  const acked = cg.page.locator(`article.alert[data-alert-id="${alertId}"][data-status="acknowledged"]`);
  await acked.waitFor();
  assert.match(await acked.locator('.who').innerText(), /Acknowledged · by you/);
  await shot(cg.page, 'alerts-3-caregiver-acknowledged');

  // The family's view changes without a reload.
  await fam.page.locator(`article.alert[data-alert-id="${alertId}"][data-status="acknowledged"]`).waitFor();
  // The live event changes the status at once; the name follows with the alert's detail, and
  // nothing in between shows an empty "by".
  assert.doesNotMatch(await famRow.locator('.who').innerText(), /by +at/);
  await famRow.locator('.who', { hasText: /^Acknowledged · by Community nurse / }).waitFor();
  const who = await famRow.locator('.who').innerText();
  // By the nurse's name, which the API gives families for staff (not a bare #id).
  assert.match(who, /^Acknowledged · by Community nurse /);
  await famRow.locator('button.history').click();
  const famAck = famRow.locator('.detail ol.events li[data-kind="acknowledged"]');
  await famAck.waitFor();
  assert.match(await famAck.innerText(), /Community nurse/);
  for (const part of ['ol.events', 'table.notifications']) {
    assert.doesNotMatch(await famRow.locator(`.detail ${part}`).innerText(), /#\d/, `nobody shown as a number in ${part}`);
  }
  const after = await asFamily(`/alerts/${alertId}`);
  assert.equal(after.body.alert.status, 'acknowledged');
  const me = await (await apiLogin(demo.base, 'caregiver'))('/me');
  assert.equal(after.body.alert.acknowledged_by, me.body.user_id);
  await fam.page.evaluate(() => { location.hash = '#/wall'; });
  const card = fam.page.locator('article.card', { hasText: 'Wang Jianguo' });
  await card.locator('.status-text', { hasText: 'Acknowledged' }).waitFor();
  assert.equal(await fam.page.locator('article.card').count(), 1, 'family1 has one resident on the wall');
  await shot(fam.page, 'alerts-4-family-sees-acknowledgement');

  // The history shows the notification and the acknowledgement.
  const row = cg.page.locator(`article.alert[data-alert-id="${alertId}"]`);
  await row.locator('button.history').click();
  await row.locator('.detail ol.events li[data-kind="acknowledged"]').waitFor();
  assert.ok((await row.locator('.detail table.notifications tbody tr').count()) > 0, 'notifications listed');
  await shot(cg.page, 'alerts-5-history');

  assert.deepEqual(cg.problems, []);
  assert.deepEqual(fam.problems, []);
  await cg.context.close();
  await fam.context.close();
});

test('resolve with a note and snooze, in two clicks each', { timeout: 240_000 }, async () => {
  const { page, context, problems } = await newPage(browser, demo.base, { viewport: { width: 820, height: 1180 }, hasTouch: true });
  await signIn(page, demo.base, 'caregiver', { path: '/console/#/alerts' });
  const fall = page.locator('article.alert[data-status="open"]', { hasText: 'Chen Mei' }).filter({ hasText: 'Fall' });
  await fall.first().waitFor({ timeout: STORY_TIMEOUT });
  const fallId = await fall.first().getAttribute('data-alert-id');
  const row = page.locator(`article.alert[data-alert-id="${fallId}"]`);
  await row.locator('button.resolve').click();
  await row.locator('textarea.resolve-note').fill('Visited her; she is sitting up, no injury. GP informed.');
  await row.locator('button.confirm').click();
  await row.waitFor({ state: 'detached' });
  await page.locator('button.tab', { hasText: 'Resolved' }).click();
  const done = page.locator(`article.alert[data-alert-id="${fallId}"][data-status="resolved"]`);
  await done.waitFor();
  assert.match(await done.locator('.who').innerText(), /GP informed/);
  await shot(page, 'alerts-6-tablet-resolved');

  await page.locator('button.tab', { hasText: 'Active' }).click();
  const other = page.locator('article.alert[data-status="open"]').first();
  await other.waitFor({ timeout: STORY_TIMEOUT });
  const otherId = await other.getAttribute('data-alert-id');
  const target = page.locator(`article.alert[data-alert-id="${otherId}"]`);
  await target.locator('button.snooze').click();
  await target.locator('button.snooze-for[data-minutes="30"]').click();
  await target.locator('.meta', { hasText: 'snoozed until' }).waitFor();
  const api = await apiLogin(demo.base, 'caregiver');
  const snoozed = await api(`/alerts/${otherId}`);
  assert.ok(snoozed.body.alert.snoozed_until, 'the server has the snooze');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling on a tablet');
  await shot(page, 'alerts-7-tablet-snoozed');
  assert.deepEqual(problems, []);
  await context.close();
});
