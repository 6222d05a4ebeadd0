// What the browser tests share: the stack's addresses, signed launches from the demo CLI, Debian's
// chromium, screenshots, and the steps every flow takes (look-up, the acquirer sandbox's form,
// the Facebook tab's POST).
//
// Environment (set by scripts/web.sh): API_URL, WEB_ORIGIN, AWS_ENDPOINT_URL_SES, SCREENSHOTS_DIR,
// VK_LAUNCH_USER_BASE, TABLE_NAME.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// Packages come from web/node_modules, exactly as web/package-lock.json pins them.
export const webRequire = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = webRequire('playwright-core');

export const API_URL = need('API_URL');
export const WEB_ORIGIN = need('WEB_ORIGIN');
export const SES_URL = need('AWS_ENDPOINT_URL_SES');
export const SCREENSHOTS = process.env.SCREENSHOTS_DIR ?? '.run/test/screenshots';
export const PHONE = { width: 360, height: 740 };
export const DESKTOP = { width: 1280, height: 900 };
export const FB_TAB = { width: 810, height: 900 };
// A paid payment waits for the sandbox's notification to reach the callback function.
export const SETTLE_MS = 60000;

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run through scripts/web.sh test`);
  return value.replace(/\/$/, '');
}

function cargoRun(bin, args) {
  return execFileSync('cargo', ['run', '-q', '-p', 'admin', '--bin', bin, '--', ...args], {
    encoding: 'utf8',
  }).trim();
}

// Signed launch parameters and requests, as the demo CLI prints them.
export function demo(...args) {
  return cargoRun('energosbyt-demo', args);
}

// Accounts of a test's own, imported into the test stack's table like the demo data.
export function importAccounts(file) {
  return cargoRun('energosbyt-admin', ['import', '--file', file]);
}

export async function launchChromium() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // launch() gives every run a fresh temporary profile of its own (no --user-data-dir allowed).
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export async function lookUp(page, account) {
  await page.locator('input[name=account]').fill(account);
  await page.getByRole('button', { name: 'Найти', exact: true }).click();
}

// The acquirer sandbox's hosted form (the bank's page, not ours), then the way back to the app.
export async function payOnSandbox(page, { pan, passcode }) {
  await page.waitForURL(/\/pay\//, { timeout: 20000 });
  await page.locator('#pan').fill(pan);
  await page.locator('#exp').fill('12/30');
  await page.locator('#cvc').fill('123');
  await page.locator('form button[type=submit]').click();
  if (passcode) {
    await page.locator('#passcode').fill(passcode);
    await page.locator('form button[type=submit]').click();
  }
  await page.waitForURL((url) => url.href.startsWith(`${WEB_ORIGIN}/#/return`), { timeout: 20000 });
}

export async function openFacebookTab(page, signedRequest) {
  await page.setContent(
    `<form method="post" action="${API_URL}/facebook/tab"><input type="hidden" name="signed_request" value="${signedRequest}"></form>`,
  );
  await page.evaluate(() => document.forms[0].submit());
  await page.waitForURL(`${API_URL}/facebook/tab`, { waitUntil: 'commit' });
}

// The meter's last accepted reading, as the readings form's hint shows it.
export async function lastReading(page, index) {
  const hint = await page.getByText(/Прошлые показания \d+/).nth(index).innerText();
  return Number(hint.match(/Прошлые показания (\d+)/)[1]);
}

// Today's day of the month on the Moscow calendar, which the service's readings windows follow.
export function moscowDay(at = new Date()) {
  return Number(new Date(at.getTime() + 3 * 3600 * 1000).toISOString().slice(8, 10));
}

// Window days that leave today outside, so a meter's window is closed whichever day the test runs.
export function closedWindowDays(at = new Date()) {
  const today = moscowDay(at);
  return today <= 28 ? { fromDay: today + 1, toDay: today + 2 } : { fromDay: 1, toDay: 2 };
}

// An account with one meter whose window is closed today, one read automatically and one faulty:
// every reason the account screen gives for not taking readings now.
export function closedMetersAccount(account) {
  const meter = (id, extra) => ({
    id: `СЕ101-${id}`,
    serial: id,
    zoneSet: 'single',
    digits: 6,
    lastReadings: { T1: { value: 21000, date: '2026-10-24' } },
    ...extra,
  });
  return {
    account,
    address: { town: 'г. Москва', street: 'ул. Большая Полянка', house: 'д. 3', flat: '9' },
    balance: '-300.00',
    tariffGroup: 'gas-stove',
    meters: [
      meter('6600111', { window: closedWindowDays() }),
      meter('6600122', { automatic: true }),
      meter('6600133', { faulty: true }),
    ],
  };
}

// Accounts written now into a file of the run's own and imported like the utility's export.
export function importNow(name, accounts) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = join(SCREENSHOTS, `${name}-export.json`);
  writeFileSync(file, JSON.stringify({ exportedAt: new Date().toISOString(), accounts }));
  return importAccounts(file);
}
