// The web page in Debian's Chromium (issue 21), driven by playwright-core and checked with
// axe-core; tests/browser.rs starts the server and the users, then runs this script. One
// session goes through the list in order — log in, create a calendar, create an event
// in the week view and find it over CalDAV, import a 500-event file watching the progress reach
// 100 %, make a busy-only feed link and fetch it, make an app password and use it with the
// python caldav client, log out — then the admin's page, reached by keyboard alone (the login,
// the skip link, the navigation), then a phone-sized pass over the main pages. Every page is screenshotted into $KALENDS_ARTIFACTS and run through axe-core: a
// serious or critical violation fails the run (all are printed). A console error (a CSP
// violation, a script error) fails it too. Elements are found by their accessible names,
// the ones src/web/mod.rs promises, so a missing label fails here as well.

import { chromium } from 'playwright-core';
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (tests/browser.rs sets it)`);
  return v;
};
const BASE = env('KALENDS_URL');
const USER = env('KALENDS_USER');
const PASSWORD = env('KALENDS_PASSWORD');
const OTHER = env('KALENDS_OTHER_USER');
const ADMIN = env('KALENDS_ADMIN');
const ADMIN_PASSWORD = env('KALENDS_ADMIN_PASSWORD');
const IMPORT_FILE = env('KALENDS_IMPORT_FILE');
const IMPORT_EVENTS = Number(env('KALENDS_IMPORT_EVENTS'));
const IMPORT_BROKEN = Number(env('KALENDS_IMPORT_BROKEN'));
const ARTIFACTS = env('KALENDS_ARTIFACTS');
const CHROMIUM = env('KALENDS_CHROMIUM');
const PYTHON = env('KALENDS_PYTHON');

const CALENDAR = 'Browser test';
const EVENT = 'Planning from the browser';
const BY_APP_PASSWORD = 'Added with an app password';
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/// The rules axe runs: WCAG 2.1 A and AA and its best practices.
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

let shots = 0;
const problems = [];
const today = new Date().toISOString().slice(0, 10);

function step(text) {
  console.log(`browser: ${text}`);
}

/// A screenshot of the whole page as NN-name.png, then axe-core on it.
async function check(page, name) {
  shots += 1;
  const file = path.join(ARTIFACTS, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (an
  // injected <script> would be refused, as it should be).
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), AXE_TAGS);
  for (const v of result.violations) {
    const where = v.nodes.slice(0, 5).map((n) => `      ${n.target.join(' ')}: ${n.failureSummary?.split('\n').join(' ')}`).join('\n');
    const line = `${name}: [${v.impact}] ${v.id}: ${v.help} (${v.nodes.length} element(s))\n${where}`;
    if (v.impact === 'serious' || v.impact === 'critical') problems.push(line);
    else console.log(`browser: axe (not failing) ${line}`);
  }
  step(`${name}: screenshot ${path.basename(file)}, axe ${result.violations.length} violation(s), ${result.passes.length} rules passed`);
}

/// The python caldav client (tests/browser/caldav_check.py) with these arguments; its JSON.
function caldav(...args) {
  const out = execFileSync(PYTHON, [path.join(import.meta.dirname, 'caldav_check.py'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out);
}

async function logIn(page, user, password) {
  await page.goto(`${BASE}/`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

async function nav(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await page.waitForLoadState('load');
}

function watchConsole(page, label) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // A page answered with an error status on purpose (a refused login, the admin page for a
    // non-admin) is logged as a failed load of the document itself: not a problem.
    if (msg.text().startsWith('Failed to load resource') && msg.location().url === page.url()) return;
    problems.push(`${label}: console error on ${page.url()}: ${msg.text()} (${msg.location().url})`);
  });
  page.on('pageerror', (err) => problems.push(`${label}: script error on ${page.url()}: ${err.message}`));
}

async function mainSession(browser) {
  const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB', viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await context.newPage();
  watchConsole(page, 'desktop');

  step('a browser at / is sent to the login page');
  await page.goto(`${BASE}/`);
  assert.match(page.url(), /\/web\/login/, `the root sends browsers to the login page, not ${page.url()}`);
  await check(page, 'login');
  await page.getByLabel('User name').fill(USER);
  await page.getByLabel('Password', { exact: true }).fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  assert.match(page.url(), /\/web\/login/, 'a wrong password stays on the login page');
  await logIn(page, USER, PASSWORD);
  const cookie = (await context.cookies()).find((c) => c.name === 'kalends_session');
  assert.ok(cookie, 'a session cookie is set');
  assert.equal(cookie.httpOnly, true, 'the session cookie is HttpOnly');
  assert.equal(cookie.sameSite, 'Strict', 'the session cookie is SameSite=Strict');

  step('create a calendar');
  await nav(page, 'Calendars');
  await page.getByLabel('Name', { exact: true }).fill(CALENDAR);
  await page.getByRole('button', { name: 'Create calendar' }).click();
  await page.getByRole('button', { name: `Copy URL of ${CALENDAR}` }).waitFor();
  await check(page, 'calendars');

  step('create an event in the week view');
  await nav(page, 'Calendar');
  await page.getByRole('link', { name: 'Week', exact: true }).click();
  await check(page, 'week');
  await page.getByRole('link', { name: 'New event' }).click();
  await page.getByLabel('Title').fill(EVENT);
  await page.getByLabel('Calendar', { exact: true }).selectOption({ label: CALENDAR });
  await page.getByLabel('Start date').fill(today);
  await page.getByLabel('Start time').fill('10:00');
  await page.getByLabel('End date').fill(today);
  await page.getByLabel('End time').fill('11:00');
  await page.getByLabel('Location').fill('Room <b>&amp; "5"');
  await check(page, 'event-form');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('link', { name: EVENT }).first().waitFor();
  const seen = caldav('find', `${BASE}/`, USER, PASSWORD, EVENT);
  assert.equal(seen.found.length, 1, `the event is seen once over CalDAV: ${JSON.stringify(seen)}`);
  assert.equal(seen.found[0].calendar, CALENDAR, `in its calendar: ${JSON.stringify(seen)}`);
  assert.ok(seen.found[0].start.startsWith(`${today}T10:00:00`), `at 10:00 UTC: ${JSON.stringify(seen)}`);
  step(`python caldav sees ${JSON.stringify(seen.found[0])}`);
  await page.getByRole('link', { name: 'Month', exact: true }).click();
  await page.getByRole('link', { name: EVENT }).first().waitFor();
  await check(page, 'month');

  step(`import ${IMPORT_EVENTS} events and watch the progress bar`);
  await nav(page, 'Import');
  await page.getByLabel('Calendar', { exact: true }).selectOption({ label: CALENDAR });
  await page.getByLabel('File (.ics)').setInputFiles(IMPORT_FILE);
  await check(page, 'import');
  // Every change of the bar while the import runs, as a person would see it: the page's own
  // script moves it while polling the import's progress, then opens the report.
  const values = [];
  const percent = (value, max) => Math.round((100 * Number(value)) / Number(max));
  await page.exposeBinding('kalendsProgress', (_source, value, max) => {
    const p = percent(value, max);
    if (values.at(-1) !== p) values.push(p);
  });
  await page.evaluate(() => {
    const bar = document.getElementById('import-progress');
    new MutationObserver(() => window.kalendsProgress(bar.value, bar.max)).observe(bar, { attributes: true });
  });
  await page.getByRole('button', { name: 'Import' }).click();
  await page.waitForURL(/\/web\/import\/[0-9a-f]+$/, { timeout: 120000 });
  // The report page shows the finished bar.
  const bar = page.getByRole('progressbar', { name: 'Import progress' });
  const last = percent(await bar.getAttribute('value'), await bar.getAttribute('max'));
  if (values.at(-1) !== last) values.push(last);
  step(`progress seen: ${values.join(' → ')} %`);
  assert.equal(values.at(-1), 100, `the progress reached 100 %: ${values.join(', ')}`);
  for (let i = 1; i < values.length; i += 1) assert.ok(values[i] >= values[i - 1], `progress never goes back: ${values}`);
  const report = page.getByRole('table', { name: 'Import report' });
  await report.waitFor();
  assert.equal(await report.locator('tbody tr').count(), IMPORT_EVENTS, 'a row per event of the file');
  const summary = await page.getByRole('main').innerText();
  const added = IMPORT_EVENTS - IMPORT_BROKEN;
  assert.match(summary, new RegExp(`\\b${added} added\\b`), `the report says ${added} added:\n${summary.slice(0, 2000)}`);
  assert.match(summary, new RegExp(`\\b${IMPORT_BROKEN} skipped\\b`), `the report says ${IMPORT_BROKEN} skipped:\n${summary.slice(0, 2000)}`);
  assert.match(summary, /no DTSTART/, 'a skipped event gives its reason');
  await check(page, 'import-report');

  step('make a busy-only feed link and fetch it');
  await nav(page, 'Feeds & shares');
  const section = page.getByRole('region', { name: CALENDAR });
  await section.getByLabel('Label', { exact: true }).fill('Busy times for the team');
  await section.getByLabel('Mode', { exact: true }).selectOption('busy');
  await section.getByRole('button', { name: 'Create feed link' }).click();
  const feedUrl = await page.getByRole('textbox', { name: 'Feed URL', exact: true }).inputValue();
  assert.match(feedUrl, /^http:\/\/127\.0\.0\.1:\d+\/feeds\/[A-Za-z0-9_-]{43}\.ics$/, `a feed URL: ${feedUrl}`);
  await page.getByRole('button', { name: 'Copy feed URL' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), feedUrl, 'the copy button put the URL on the clipboard');
  const feed = await fetch(feedUrl);
  assert.equal(feed.status, 200, `the feed answers 200, not ${feed.status}`);
  assert.match(feed.headers.get('content-type') ?? '', /^text\/calendar/);
  const ics = await feed.text();
  assert.match(ics, /SUMMARY:Busy\r\n/, 'busy periods are titled Busy');
  assert.ok(!ics.includes(EVENT) && !ics.includes('Imported 42') && !ics.includes('Room'), 'no title or place leaks into a busy feed');
  step(`the busy feed has ${(ics.match(/BEGIN:VEVENT/g) ?? []).length} busy periods and no titles`);
  await nav(page, 'Feeds & shares');
  assert.equal(await page.getByRole('textbox', { name: 'Feed URL', exact: true }).count(), 0, 'the URL is shown once only');
  await section.getByLabel('Share with', { exact: true }).fill(OTHER);
  await section.getByLabel('Access', { exact: true }).selectOption('read');
  await section.getByRole('button', { name: 'Share' }).click();
  await section.getByRole('button', { name: `Stop sharing with ${OTHER}` }).waitFor();
  await check(page, 'feeds-and-shares');

  step('make an app password and use it with the python caldav client');
  await nav(page, 'App passwords');
  await page.getByLabel('Label', { exact: true }).fill('python caldav');
  await page.getByRole('button', { name: 'Create app password' }).click();
  const secret = await page.getByRole('textbox', { name: 'New app password', exact: true }).inputValue();
  assert.match(secret, /^kal_[A-Za-z0-9_-]{32}$/, 'an app password is shown');
  await check(page, 'app-passwords');
  const added_ = caldav('add', `${BASE}/`, USER, secret, CALENDAR, 'browser-app-password@kalends.test', BY_APP_PASSWORD, `${today.replaceAll('-', '')}T140000Z`);
  step(`python caldav with the app password wrote ${added_.added}`);
  const found = caldav('find', `${BASE}/`, USER, secret, BY_APP_PASSWORD);
  assert.equal(found.found.length, 1, `read back with the app password: ${JSON.stringify(found)}`);
  await nav(page, 'App passwords');
  assert.equal(await page.getByRole('textbox', { name: 'New app password', exact: true }).count(), 0, 'the secret is shown once only');
  await nav(page, 'Calendar');
  await page.getByRole('link', { name: 'Week', exact: true }).click();
  await page.getByRole('link', { name: BY_APP_PASSWORD }).first().waitFor();
  await check(page, 'week-with-events');
  // The README's picture: the top of this week view, as a window would show it.
  await page.setViewportSize({ width: 1100, height: 560 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'readme-week.png') });
  await page.setViewportSize({ width: 1280, height: 900 });

  step('connect a device');
  await nav(page, 'Connect a device');
  const qr = page.getByRole('img', { name: /DAVx5/ });
  await qr.waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download the configuration profile' }).click()]);
  const profile = readFileSync(await download.path(), 'utf8');
  assert.match(download.suggestedFilename(), /\.mobileconfig$/);
  assert.match(profile, /<string>com\.apple\.caldav\.account<\/string>/);
  assert.match(profile, new RegExp(`<key>CalDAVUsername</key>\\s*<string>${USER}</string>`));
  assert.ok(!profile.includes('CalDAVPassword'), 'no password in the plain download');
  writeFileSync(path.join(ARTIFACTS, 'kalends.mobileconfig'), profile);
  await check(page, 'device');

  step('log out');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('User name').waitFor();
  await page.goto(`${BASE}/web/calendar`);
  assert.match(page.url(), /\/web\/login/, `after logging out a page sends to the login, not ${page.url()}`);
  await check(page, 'logged-out');

  step('the admin page, reached by keyboard alone: create a user, then delete them');
  // The login form focuses its first field; Tab moves on, Enter submits.
  await page.goto(`${BASE}/`);
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Tab');
  await page.keyboard.type(ADMIN_PASSWORD);
  await page.keyboard.press('Enter');
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
  // The first Tab of a page lands on the skip link, which leads past the navigation.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content', 'the first Tab reaches the skip link');
  let tabs = 0;
  while (tabs < 20 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'Admin') {
    await page.keyboard.press('Tab');
    tabs += 1;
  }
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Admin', level: 1 }).waitFor();
  await page.getByLabel('User name').fill('carol');
  await page.getByLabel('Email', { exact: true }).fill('carol@example.org');
  await page.getByLabel('Password', { exact: true }).fill('carol-browser-pw');
  await page.getByRole('button', { name: 'Create user' }).click();
  await page.getByRole('cell', { name: 'carol', exact: true }).waitFor();
  await check(page, 'admin');
  await page.getByRole('link', { name: 'Delete carol' }).click();
  await check(page, 'admin-confirm-delete');
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Create user' }).waitFor();
  assert.equal(await page.getByRole('cell', { name: 'carol', exact: true }).count(), 0, 'carol is gone');
  await page.getByRole('button', { name: 'Log out' }).click();
  await context.close();
}

/// A phone-sized screen: every main page fits its width and passes axe.
async function phonePass(browser) {
  const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-GB', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const page = await context.newPage();
  watchConsole(page, 'phone');
  await logIn(page, USER, PASSWORD);
  for (const [where, name] of [
    ['calendar?view=week', 'phone-week'],
    ['calendar?view=month', 'phone-month'],
    ['events/new', 'phone-event-form'],
    ['calendars', 'phone-calendars'],
    ['import', 'phone-import'],
    ['feeds', 'phone-feeds'],
    ['app-passwords', 'phone-app-passwords'],
    ['device', 'phone-device'],
  ]) {
    await page.goto(`${BASE}/web/${where}`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${where} is ${overflow} px wider than a 390 px screen`);
    await check(page, name);
  }
  // Not an administrator: the admin page is refused.
  const refused = await page.goto(`${BASE}/web/admin`);
  assert.equal(refused.status(), 403, 'the admin page is refused to a user who is not an administrator');
  await context.close();
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
step(`Chromium ${browser.version()} from ${CHROMIUM}`);
try {
  await mainSession(browser);
  await phonePass(browser);
} finally {
  await browser.close();
}
if (problems.length > 0) {
  console.error(`browser: ${problems.length} problem(s):\n${problems.join('\n')}`);
  process.exit(1);
}
step(`done: ${shots} screenshots in ${ARTIFACTS}, no serious or critical accessibility violation`);
