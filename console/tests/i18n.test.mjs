// Chinese (zh-CN) is chosen from the browser's language, the switch changes it and is remembered;
// times are shown in the community's zone (Asia/Shanghai by default, or the one an administrator
// set through the API) whatever the browser's zone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDemo, launch, newPage, signIn, shot, apiLogin } from './support.mjs';

let demo;
let browser;

before(async () => {
  demo = await startDemo({ speed: 10 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('a Chinese browser gets the console in Chinese, and can switch to English', { timeout: 120_000 }, async () => {
  const { page, context, problems } = await newPage(browser, demo.base, { locale: 'zh-CN', timezoneId: 'Europe/London' });
  await page.goto(`${demo.base}/`);
  await page.locator('#login-title', { hasText: '登录' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await shot(page, 'i18n-1-login-zh');

  // The characters are drawn, not boxes: each renders differently from a missing glyph and from
  // the others (needs a CJK font on the machine; the console uses the system's, downloads none).
  const drawn = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 80;
    c.height = 40;
    const g = c.getContext('2d');
    g.font = `28px ${getComputedStyle(document.body).fontFamily}`;
    const draw = (ch) => {
      g.clearRect(0, 0, 80, 40);
      g.fillText(ch, 4, 32);
      return g.getImageData(0, 0, 80, 40).data.join('');
    };
    const missing = draw('\u{10FFFD}');
    const glyphs = ['居', '民', '告', '警'].map(draw);
    return glyphs.every((x) => x !== missing) && new Set(glyphs).size === glyphs.length;
  });
  assert.ok(drawn, 'Chinese characters render with a real font (Debian: fonts-wqy-zenhei or fonts-noto-cjk)');

  await signIn(page, demo.base, 'caregiver');
  assert.equal(await page.locator('#wall-title').innerText(), '居民总览');
  assert.deepEqual(await page.locator('#nav a').allInnerTexts().then((a) => a.map((s) => s.replace(/\d+$/, '').trim())), ['居民', '告警', '统计']);
  await page.locator('article.card .status-text').first().waitFor();
  const statuses = await page.locator('article.card .status-text').allInnerTexts();
  assert.ok(statuses.every((s) => /[\u4e00-\u9fff]/.test(s)), `statuses in Chinese: ${statuses}`);
  assert.match(await page.locator('#live-state').innerText(), /实时/);

  // A reading's time, in Asia/Shanghai although the browser is in London.
  await page.locator('article.card a.name', { hasText: 'Wang Jianguo' }).click();
  const tile = page.locator('.tile[data-metric="heart_rate"] time');
  await tile.waitFor();
  const at = Date.parse(await tile.getAttribute('datetime'));
  const shanghai = new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
  assert.ok((await tile.getAttribute('title')).includes(shanghai), `${await tile.getAttribute('title')} shows ${shanghai}`);
  assert.equal(await page.locator('.resident h2').first().innerText(), '生命体征');
  await page.locator('.chart-box svg.chart').first().waitFor();
  await shot(page, 'i18n-2-resident-zh');

  await page.evaluate(() => { location.hash = '#/alerts'; });
  await page.locator('#inbox-title', { hasText: '告警' }).waitFor();
  await page.evaluate(() => { location.hash = '#/stats'; });
  await page.locator('#stats-title', { hasText: '社区统计' }).waitFor();
  await page.locator('.stat[data-stat="residents"] .stat-value').waitFor();
  await shot(page, 'i18n-3-stats-zh');

  // The switch, remembered across a reload (the session survives it too).
  await page.locator('#lang-select').selectOption('en');
  await page.locator('#stats-title', { hasText: 'Community statistics' }).waitFor();
  await page.reload();
  await page.locator('html[data-ready="1"]').waitFor({ state: 'attached' });
  await page.locator('#stats-title', { hasText: 'Community statistics' }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  assert.deepEqual(problems, []);
  await context.close();
});

test("times follow the community's time zone set through the API, for staff and families", { timeout: 120_000 }, async () => {
  // The administrator moves the demo community to India's zone (UTC+5:30, unlike the browser's
  // and the default); a nonsense zone is refused first.
  const admin = await apiLogin(demo.base, 'admin');
  const community = (await admin('/org-units')).body.find((u) => u.kind === 'community');
  assert.equal(community.time_zone, 'Asia/Shanghai');
  const bad = await admin(`/org-units/${community.org_unit_id}`, { method: 'PATCH', body: JSON.stringify({ time_zone: 'Mars/Olympus' }) });
  assert.equal(bad.status, 422);
  const ok = await admin(`/org-units/${community.org_unit_id}`, { method: 'PATCH', body: JSON.stringify({ time_zone: 'Asia/Kolkata' }) });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));

  const hhmm = (tz, at) => new Intl.DateTimeFormat('en-US', { timeZone: tz, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(at);
  for (const user of ['caregiver', 'family1']) {
    const { page, context, problems } = await newPage(browser, demo.base, { timezoneId: 'Europe/London' });
    await signIn(page, demo.base, user);
    await page.locator('#me .tz', { hasText: 'Asia/Kolkata' }).waitFor();
    await page.locator('article.card a.name', { hasText: 'Wang Jianguo' }).click();
    const tile = page.locator('.tile[data-metric="heart_rate"] time');
    await tile.waitFor();
    const at = Date.parse(await tile.getAttribute('datetime'));
    const title = await tile.getAttribute('title');
    assert.ok(title.includes(hhmm('Asia/Kolkata', at)), `${user}: "${title}" shows ${hhmm('Asia/Kolkata', at)}`);
    assert.ok(!title.includes(hhmm('Asia/Shanghai', at)), `${user}: "${title}" is not Shanghai time`);
    await shot(page, `i18n-4-zone-${user}`);
    assert.deepEqual(problems, []);
    await context.close();
  }
});
