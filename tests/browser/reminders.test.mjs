// «Напоминать о показаниях» in VK, in Debian's chromium against the test stack: a VK user turns
// the reminder on for an account (VK asks them to allow the app's notifications first), the
// service keeps it (the switch is on again on the next visit), and turns it off; a user who does
// not allow notifications gets nothing turned on and is told why.
//
// VK's Android client is played as in second_visit.test.mjs (window.AndroidBridge answering with
// VKWebAppEvent), answering VKWebAppAllowNotifications as the test says. Run by scripts/web.sh test.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { DESKTOP, PHONE, WEB_ORIGIN, demo, importNow, launchChromium, lookUp, shot } from './support.mjs';

const USER = String(820000 + Number(process.env.VK_LAUNCH_USER_BASE ?? 0));
const ACCOUNT = '10000-000-71';

let browser;

before(async () => {
  importNow('reminders', [
    {
      account: ACCOUNT,
      address: { town: 'г. Москва', street: 'ул. Пречистенка', house: 'д. 7', flat: '3' },
      balance: '-80.00',
      tariffGroup: 'gas-stove',
      meters: [
        {
          id: 'СЕ101-1000000071',
          serial: '1000000071',
          zoneSet: 'single',
          digits: 6,
          window: { fromDay: 1, toDay: 31 },
          lastReadings: { T1: { value: 5000, date: '2026-10-24' } },
        },
      ],
    },
  ]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

function vkClient() {
  const reply = (type, data) => window.dispatchEvent(new CustomEvent('VKWebAppEvent', { detail: { type, data } }));
  const forward = (method) => (raw) => {
    const params = JSON.parse(raw);
    window.__vkHostCall(method, params).then(([type, data]) => reply(type, { ...data, request_id: params.request_id }));
  };
  window.AndroidBridge = {
    VKWebAppInit(raw) {
      const { request_id: requestId } = JSON.parse(raw);
      setTimeout(() => reply('VKWebAppInitResult', { result: true, request_id: requestId }), 0);
    },
    VKWebAppStorageGet: forward('VKWebAppStorageGet'),
    VKWebAppStorageSet: forward('VKWebAppStorageSet'),
    VKWebAppGetEmail: forward('VKWebAppGetEmail'),
    VKWebAppAllowNotifications: forward('VKWebAppAllowNotifications'),
  };
}

function answerAsVk(host, method, params) {
  host.asked.push(method);
  if (method === 'VKWebAppStorageGet') {
    return ['VKWebAppStorageGetResult', { keys: params.keys.map((key) => ({ key, value: '' })) }];
  }
  if (method === 'VKWebAppStorageSet') return ['VKWebAppStorageSetResult', { result: true }];
  if (method === 'VKWebAppAllowNotifications') {
    return host.allows
      ? ['VKWebAppAllowNotificationsResult', { result: true }]
      : ['VKWebAppAllowNotificationsFailed', { error_type: 'client_error', error_data: { error_code: 4, error_reason: 'User denied' } }];
  }
  return ['VKWebAppGetEmailFailed', { error_type: 'client_error', error_data: { error_code: 4, error_reason: 'User denied' } }];
}

async function vkVisit({ viewport = PHONE, allows = true, user = USER } = {}) {
  const context = await browser.newContext({ viewport, locale: 'ru-RU' });
  const host = { allows, asked: [] };
  await context.exposeFunction('__vkHostCall', (method, params) => answerAsVk(host, method, params));
  await context.addInitScript(vkClient);
  const page = await context.newPage();
  await page.goto(`${WEB_ORIGIN}/?${demo('vk-launch', '--user', user, '--platform', 'mobile_android')}`);
  await page.locator('input[name=account]').waitFor();
  await lookUp(page, ACCOUNT);
  await page.getByTestId('balance').waitFor();
  return { context, page, host, reminder: page.getByRole('switch', { name: /Напоминать о показаниях/ }) };
}

test('a VK user turns the reminder on after allowing notifications, finds it on next time, and turns it off', async () => {
  const first = await vkVisit();
  await first.reminder.waitFor();
  assert.equal(await first.reminder.isChecked(), false);
  // The row's words are the switch's label: a tap on them flips it.
  await first.page.getByText('Напоминать о показаниях', { exact: true }).click();
  await first.page.waitForFunction(() => document.querySelector('[data-testid=reminder-switch]')?.checked === true);
  assert.ok(first.host.asked.includes('VKWebAppAllowNotifications'), 'VK was asked to allow notifications');
  await shot(first.page, 'reminders-phone-1-on');
  await first.context.close();

  const second = await vkVisit({ viewport: DESKTOP });
  await second.page.waitForFunction(() => document.querySelector('[data-testid=reminder-switch]')?.checked === true);
  // From the keyboard: the switch takes the focus and Space flips it.
  await second.reminder.focus();
  await second.page.keyboard.press('Space');
  await second.page.waitForFunction(() => document.querySelector('[data-testid=reminder-switch]')?.checked === false);
  await shot(second.page, 'reminders-desktop-2-off');
  await second.context.close();

  const third = await vkVisit();
  await third.reminder.waitFor();
  assert.equal(await third.reminder.isChecked(), false, 'off is kept by the service');
  await third.context.close();
});

test('a VK user who does not allow notifications gets no reminder and is told why', async () => {
  const visit = await vkVisit({ allows: false, user: String(Number(USER) + 1) });
  await visit.reminder.waitFor();
  await visit.page.getByText('Напоминать о показаниях', { exact: true }).click();
  await visit.page.getByRole('alert').getByText('Разрешите уведомления от приложения').waitFor();
  assert.equal(await visit.reminder.isChecked(), false);
  await visit.context.close();
});
