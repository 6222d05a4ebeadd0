// The mini app in a real browser (Debian's chromium driven by playwright-core) against the test
// stack: the functions under `cargo lambda watch`, DynamoDB Local seeded with the demo accounts,
// the acquirer sandbox's hosted form and moto's SES. Run by scripts/web.sh test (make test); the
// environment it needs is listed in support.mjs.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_URL,
  DESKTOP,
  FB_TAB,
  PHONE,
  SES_URL,
  SETTLE_MS,
  WEB_ORIGIN,
  demo,
  importNow,
  lastReading,
  launchChromium,
  lookUp,
  openFacebookTab,
  payOnSandbox,
  shot,
} from './support.mjs';

const USER_BASE = 700000 + Number(process.env.VK_LAUNCH_USER_BASE ?? 0);
const RUN = Date.now().toString(36);

// The debtor of the first test, imported now as the billing system would export it: the demo
// account it copies may carry readings other suites handed in, which stand beside its debt until
// an export that bills them (README, "what is due").
const DEBTOR = '10000-000-81';

let browser;
let userSeq = 0;

before(async () => {
  importNow('mini-app-debtor', [
    {
      account: DEBTOR,
      address: { town: 'г. Москва', street: 'ул. Тверская', house: 'д. 7', flat: '15' },
      balance: '-1520.37',
      tariffGroup: 'gas-stove',
      meters: [
        {
          id: 'СЕ101-8100001',
          serial: '8100001',
          zoneSet: 'single',
          digits: 6,
          lastReadings: { T1: { value: 12345, date: '2026-10-22' } },
        },
      ],
    },
  ]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

async function vkPage(viewport, { colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, locale: 'ru-RU' });
  const page = await context.newPage();
  const launch = demo('vk-launch', '--user', String(USER_BASE + ++userSeq));
  const apiUrls = [];
  page.on('request', (request) => {
    if (request.url().startsWith(API_URL)) apiUrls.push(request.url());
  });
  await page.goto(`${WEB_ORIGIN}/?${launch}`);
  return { page, context, apiUrls };
}

async function mailsTo(address) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const data = await (await fetch(`${SES_URL}/moto-api/data.json`)).json();
    const found = (data.ses?.RawMessage ?? []).filter((mail) => JSON.stringify(mail).includes(address));
    if (found.length > 0 || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test('a debtor looks up, pays through 3-D Secure, sees "paid", the new balance and gets the email', async () => {
  const { page, context, apiUrls } = await vkPage(DESKTOP);
  const email = `payer-${RUN}@example.ru`;
  await lookUp(page, DEBTOR.replaceAll('-', ''));
  await page.getByText('Задолженность 1\u00a0520,37\u00a0₽').waitFor();
  assert.match(await page.getByTestId('address').innerText(), /\*/, 'the address is masked');
  assert.equal(await page.locator('input[name=amount]').inputValue(), '1520,37');
  await shot(page, 'desktop-1-account');

  await page.locator('input[name=email]').fill(email);
  await page.getByRole('button', { name: 'Оплатить картой', exact: true }).click();
  await payOnSandbox(page, { pan: '2201382000000047', passcode: '1qwezxc' });
  await page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  assert.match(await page.locator('[data-payment-status=paid]').innerText(), /Оплата прошла[\s\S]*1\u00a0520,37/);
  await shot(page, 'desktop-2-paid');

  await page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await page.getByText('Задолженности нет').waitFor();
  await shot(page, 'desktop-3-balance-after');

  const mails = await mailsTo(email);
  assert.ok(mails.length >= 1, `moto holds no email to ${email}`);
  for (const url of apiUrls) assert.ok(!/vk_|sign=/.test(url), `launch parameters leaked into ${url}`);
  await context.close();
});

// "1\u00a0234,56\u00a0₽" → 123456 kopecks: the page's figures compared exactly, never as floats.
function kopecks(text) {
  const match = text.replace(/[\s\u00a0]/g, '').match(/(\d+),(\d\d)₽/);
  assert.ok(match, `no amount in ${JSON.stringify(text)}`);
  return Number(match[1]) * 100 + Number(match[2]);
}

test('two meters: each charge and the debt counted once, a comma refused, paid by readings (360 px, dark)', async () => {
  const { page, context } = await vkPage(PHONE, { colorScheme: 'dark' });
  await lookUp(page, '10000-000-07');
  await page.getByText('Задолженность 250,00\u00a0₽').waitFor();
  const debt = 25000;
  await shot(page, 'phone-two-meters-1-account');

  // The first meter: its number typed off the case (as the hint says, the look-up shows it masked),
  // and a reading typed with a decimal comma is refused with the reason, never read as more digits.
  await page.getByRole('button', { name: 'Оплатить по показаниям' }).first().click();
  assert.match(await page.getByText('Номер указан на корпусе счётчика').innerText(), /СЕ101-\*\*\*208/);
  await page.locator('input[name=meter-number]').fill('№ 1142208');
  const field = page.locator('input[name=reading-T1]');
  const last = await lastReading(page, 0);
  await field.fill(`${last + 107},3`);
  await page.getByText(/целое число кВт·ч/).waitFor();
  assert.ok(await page.getByRole('button', { name: 'Рассчитать сумму' }).isDisabled(), 'a comma cannot be sent');
  await shot(page, 'phone-two-meters-2-comma-refused');
  await field.fill(String(last + 107));
  await page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  await page.getByTestId('amount-to-pay').waitFor();
  const first = kopecks(await page.getByTestId('charge').innerText());
  assert.ok(first > 0, 'the first meter is priced');
  assert.equal(kopecks(await page.getByTestId('amount-to-pay').innerText()), first + debt);

  // Back on the account: what was handed in, and one figure to pay.
  await page.getByRole('button', { name: 'Назад к лицевому счёту' }).click();
  await page.getByTestId('charged').waitFor();
  assert.equal(kopecks(await page.getByTestId('charged').innerText()), first);
  assert.equal(kopecks(await page.getByTestId('recommended').innerText()), first + debt);
  assert.match(await page.getByTestId('balance').innerText(), /Баланс с учётом показаний/);

  // The second meter.
  await page.getByRole('button', { name: 'Оплатить по показаниям' }).first().click();
  await page.locator('input[name=meter-number]').fill('1142209');
  await page.locator('input[name=reading-T1]').fill(String((await lastReading(page, 0)) + 64));
  await page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  await page.getByTestId('amount-to-pay').waitFor();
  const second = kopecks(await page.getByTestId('charge').innerText());
  assert.equal(kopecks(await page.getByTestId('charged-total').innerText()), first + second);
  const due = first + second + debt;
  assert.equal(kopecks(await page.getByTestId('amount-to-pay').innerText()), due, 'the debt counted once');
  // Prefilled, not locked: an amount the payment limits refuse must stay correctable.
  const amountField = page.locator('input[name=amount]');
  assert.equal(kopecks(`${await amountField.inputValue()}₽`), due, 'what is due prefilled');
  assert.ok(await amountField.isEditable(), 'the customer may pay another amount');
  await shot(page, 'phone-two-meters-3-second-meter');
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= PHONE.width, `the page scrolls sideways at 360 px (${width} px wide)`);

  // Paying exactly that leaves nothing due and no overpayment shown.
  await page.locator('input[name=email]').fill(`two-meters-${RUN}@example.ru`);
  await page.getByRole('button', { name: 'Оплатить картой', exact: true }).click();
  await payOnSandbox(page, { pan: '2200770239097761' });
  await page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  await page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await page.getByTestId('charged').waitFor();
  assert.match(await page.getByTestId('balance').innerText(), /Задолженности нет/);
  assert.equal(await page.getByTestId('recommended').count(), 0, 'nothing left to pay');
  assert.equal(await page.locator('input[name=amount]').inputValue(), '', 'no amount prefilled');
  assert.equal(await page.getByTestId('handed-in').count(), 2, 'both meters listed as handed in');
  await shot(page, 'phone-two-meters-4-paid');
  await context.close();
});

test('an electric-stove account with two meters: the debt offered, one field per zone, a day without a price refused in Russian (1280 px)', async () => {
  const { page, context } = await vkPage(DESKTOP);
  await lookUp(page, '10000-000-06');
  await page.getByText('Задолженность 412,60\u00a0₽').waitFor();
  assert.equal(await page.locator('input[name=amount]').inputValue(), '412,60');
  assert.equal(await page.getByRole('button', { name: 'Оплатить по показаниям' }).count(), 2, 'both meters take readings');
  await shot(page, 'desktop-electric-1-account');

  // The two-zone meter asks for day and night.
  await page.getByRole('button', { name: 'Оплатить по показаниям' }).nth(1).click();
  assert.equal(await page.locator('input[name^=reading-]').count(), 2, 'a two-zone meter asks for T1 and T2');
  await page.locator('input[name=meter-number]').fill('0873361');
  for (const [index, zone] of ['T1', 'T2'].entries()) {
    await page.locator(`input[name=reading-${zone}]`).fill(String((await lastReading(page, index)) + 40));
  }
  await page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  // No electric-stove price is published for today: the service's own Russian title, not an error page.
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('data-problem'), '/problems/tariff-not-loaded');
  assert.match(await alert.innerText(), /Тариф на эту дату ещё не загружен/);
  await shot(page, 'desktop-electric-2-tariff-not-loaded');
  await context.close();
});

test('a second VK user on the account sees the masked number, not the figures, and cannot replace them', async () => {
  // The first user hands readings in with the number off the meter.
  const first = await vkPage(PHONE);
  await lookUp(first.page, '10000-000-08');
  await first.page.getByText('Задолженность 180,00\u00a0₽').waitFor();
  await first.page.getByRole('button', { name: 'Оплатить по показаниям' }).click();
  const reading = (await lastReading(first.page, 0)) + 95;
  await first.page.locator('input[name=reading-T1]').fill(String(reading));
  // A wrong number first: refused in Russian, nothing handed in.
  await first.page.locator('input[name=meter-number]').fill('7730216');
  await first.page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  const wrong = first.page.getByRole('alert');
  await wrong.waitFor();
  assert.equal(await wrong.getAttribute('data-problem'), '/problems/meter-number-wrong');
  assert.match(await wrong.innerText(), /Номер счётчика не совпадает/);
  await first.page.locator('input[name=meter-number]').fill('7730215');
  await first.page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  await first.page.getByTestId('amount-to-pay').waitFor();
  await first.page.getByRole('button', { name: 'Назад к лицевому счёту' }).click();
  await first.page.getByRole('button', { name: 'Исправить показания' }).waitFor();
  assert.match(await first.page.getByTestId('handed-in').innerText(), new RegExp(`T1: ${reading}`));
  await first.context.close();

  // A second user of the same account: the number masked, no figures, nothing to correct.
  const second = await vkPage(PHONE);
  await lookUp(second.page, '10000-000-08');
  const handedIn = second.page.getByTestId('handed-in');
  await handedIn.waitFor();
  const shown = await second.page.locator('body').innerText();
  assert.match(await handedIn.innerText(), /Показания за этот месяц уже переданы/);
  assert.match(shown, /Меркурий201-\*\*\*215/, 'the meter is recognisable');
  assert.ok(!shown.includes('7730215'), 'the full number is not shown');
  assert.ok(!shown.includes(String(reading)), 'the figures are not shown');
  assert.equal(await second.page.getByRole('button', { name: /показания/i }).count(), 0, 'nothing to hand in or correct');
  assert.notEqual(await second.page.locator('input[name=amount]').inputValue(), '', 'the account can be paid');
  await shot(second.page, 'phone-second-user-handed-in');

  // Even with the number off the meter, the service refuses to replace the figures.
  const refusal = await second.page.evaluate(async ({ api, reading }) => {
    const launch = window.sessionStorage.getItem('energosbyt.vk-launch');
    const response = await fetch(`${api}/accounts/10000-000-08/readings`, {
      method: 'POST',
      headers: { Authorization: `VK ${launch}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ meterId: '7730215', meterRef: 1, values: { T1: reading + 500 } }),
    });
    return { status: response.status, body: await response.json() };
  }, { api: API_URL, reading });
  assert.equal(refusal.status, 409);
  assert.equal(refusal.body.title, 'Показания этого счётчика за месяц уже переданы');
  await second.context.close();
});

test('a declined card ends on "payment failed" with the bank\'s reason and the advice to try again (360 px)', async () => {
  const { page, context } = await vkPage(PHONE);
  await lookUp(page, '1000000005');
  await page.locator('input[name=email]').fill(`declined-${RUN}@example.ru`);
  await page.getByRole('button', { name: 'Оплатить картой', exact: true }).click();
  await payOnSandbox(page, { pan: '2201382000000831' });
  await page.locator('[data-payment-status=failed]').waitFor({ timeout: SETTLE_MS });
  // The sandbox declines this card as the bank does for insufficient funds (ErrorCode 1051).
  assert.match(
    await page.locator('[data-payment-status=failed]').innerText(),
    /Недостаточно средств на карте\.[\s\S]*Деньги не списаны/,
  );
  await shot(page, 'phone-4-failed');
  await context.close();
});

test('an unknown account shows the service\'s Russian title, at both widths', async () => {
  for (const [name, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    const { page, context } = await vkPage(viewport);
    await lookUp(page, '99999-999-99');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /[А-Яа-яЁё]/);
    assert.equal(await alert.getAttribute('data-problem'), '/problems/account-not-found');
    await shot(page, `${name}-unknown-account`);
    await context.close();
  }
});

test('without launch parameters the page explains where it works instead of failing', async () => {
  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  await page.goto(`${WEB_ORIGIN}/`);
  await page.getByText('Откройте приложение во ВКонтакте').waitFor();
  await context.close();
});

test('the Facebook tab: the POSTed signed_request opens the app, which looks up as the FB user', async () => {
  const context = await browser.newContext({ viewport: FB_TAB });
  const page = await context.newPage();
  await openFacebookTab(page, demo('fb-signed-request'));
  await lookUp(page, '1000000003');
  await page.getByText('Переплата 250,00\u00a0₽').waitFor();
  assert.equal(await page.locator('input[name=amount]').inputValue(), '', 'no debt: the amount is free');
  await shot(page, 'facebook-tab-account');

  // A fresh page: the tab's own policy (form-action 'none') keeps it from posting anywhere.
  const forged = await context.newPage();
  await openFacebookTab(forged, 'forged.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiJ9');
  await forged.getByText('Не удалось открыть оплату').waitFor();
  await context.close();
});

test('figures: transferred size and time until the account field can be typed in', async () => {
  const context = await browser.newContext({ viewport: PHONE });
  const page = await context.newPage();
  const launch = demo('vk-launch', '--user', String(USER_BASE + ++userSeq));
  await page.goto(`${WEB_ORIGIN}/?${launch}`, { waitUntil: 'load' });
  await page.locator('input[name=account]').waitFor();
  const figures = await page.evaluate(() => {
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    return {
      transferred: entries.reduce((sum, entry) => sum + (entry.transferSize || 0), 0),
      decoded: entries.reduce((sum, entry) => sum + (entry.decodedBodySize || 0), 0),
      interactiveMs: Math.round(performance.now()),
    };
  });
  console.log(
    `mini app: ${(figures.transferred / 1024).toFixed(1)} KiB transferred (gzip), ` +
      `${(figures.decoded / 1024).toFixed(1)} KiB decoded, account field usable after ${figures.interactiveMs} ms`,
  );
  assert.ok(figures.transferred > 0 && figures.transferred < figures.decoded, 'the page is served compressed');
  await context.close();
});
