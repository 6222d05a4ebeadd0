// Paying through СБП in a real browser against the test stack: on a phone in VK the СБП link opens
// the customer's bank app (the sandbox's page playing it); on a computer the page shows the QR with
// the amount and waits until the bank app confirms, then says paid, and both emails arrive. The
// accounts are the test's own (sbp-accounts.json, imported before it).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DESKTOP, PHONE, SES_URL, SETTLE_MS, WEB_ORIGIN, demo, importAccounts, launchChromium, lookUp, shot } from './support.mjs';

const USER_BASE = 760000 + Number(process.env.VK_LAUNCH_USER_BASE ?? 0);
const RUN = Date.now().toString(36);

let browser;
let userSeq = 0;

before(async () => {
  importAccounts(fileURLToPath(new URL('./sbp-accounts.json', import.meta.url)));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

async function vkPage(viewport, platform) {
  const context = await browser.newContext({ viewport, locale: 'ru-RU' });
  const page = await context.newPage();
  const launch = demo('vk-launch', '--user', String(USER_BASE + ++userSeq), '--platform', platform);
  await page.goto(`${WEB_ORIGIN}/?${launch}`);
  return { page, context };
}

// The payment-received email and the fiscal receipt of one payment, as moto holds them.
async function mailsOf(paymentId) {
  const deadline = Date.now() + 30000;
  for (;;) {
    const data = await (await fetch(`${SES_URL}/moto-api/data.json`)).json();
    const raws = (data.ses?.RawMessage ?? []).map((mail) => JSON.stringify(mail));
    const received = raws.filter((raw) => raw.includes(`payment-received.${paymentId}@`)).length;
    const receipts = raws.filter((raw) => raw.includes(`receipt.${paymentId}.`)).length;
    if ((received >= 1 && receipts >= 1) || Date.now() > deadline) return { received, receipts };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

test('on a phone in VK, «Оплатить через СБП» opens the СБП link in the bank app, and back in the app the payment shows paid (360 px)', async () => {
  const { page, context } = await vkPage(PHONE, 'mobile_android');
  await lookUp(page, '10000-000-93');
  await page.getByTestId('balance').waitFor();
  // Its own amount: a run before may have paid the debt already.
  await page.locator('input[name=amount]').fill('318,40');
  await page.locator('input[name=email]').fill(`sbp-phone-${RUN}@example.ru`);
  await page.getByRole('button', { name: 'Оплатить через СБП' }).click();

  await page.waitForURL(/\/sbp\/\d+$/, { timeout: 20000 });
  await page.getByRole('button', { name: /Подтвердить оплату 318,40/ }).waitFor();
  await shot(page, 'sbp-phone-1-bank-app');
  await page.getByRole('button', { name: /Подтвердить оплату/ }).click();
  await page.getByText('Оплата прошла').waitFor();

  await page.goBack();
  await page.goBack();
  await page.waitForURL((url) => url.href.startsWith(`${WEB_ORIGIN}/#/return?paymentId=`), { timeout: 20000 });
  await page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  await shot(page, 'sbp-phone-2-paid');
  await context.close();
});

test('on a computer, «Оплатить через СБП» shows our QR with the amount, waits, and says paid once the bank app confirms; both emails arrive (1280 px)', async () => {
  const { page, context } = await vkPage(DESKTOP, 'desktop_web');
  await lookUp(page, '10000-000-94');
  await page.getByTestId('balance').waitFor();
  // Its own amount: a run before may have paid the debt already.
  await page.locator('input[name=amount]').fill('927,15');
  await page.locator('input[name=email]').fill(`sbp-desktop-${RUN}@example.ru`);
  const created = page.waitForResponse((r) => r.url().endsWith('/payments') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Оплатить через СБП' }).click();
  const answer = await (await created).json();
  assert.equal(answer.method, 'sbp');

  const screen = page.getByTestId('sbp-screen');
  await screen.waitFor();
  const qr = screen.getByRole('img', { name: /QR-код для оплаты 927,15/ });
  await qr.waitFor();
  assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml/, 'drawn by the service, not fetched');
  assert.match(await screen.innerText(), /Сумма к оплате: 927,15/);
  assert.equal(await screen.getAttribute('data-sbp-state'), 'waiting');
  await page.getByText('Ждём оплату').waitFor();
  await shot(page, 'sbp-desktop-1-qr');

  // The customer's phone: the bank app opened from the QR's link confirms.
  const phone = await context.newPage();
  await phone.goto(answer.paymentUrl);
  await phone.getByRole('button', { name: /Подтвердить оплату/ }).click();
  await phone.getByText('Оплата прошла').waitFor();
  await phone.close();

  await page.locator('[data-sbp-state=paid]').waitFor({ timeout: SETTLE_MS });
  assert.match(await screen.innerText(), /Оплата прошла[\s\S]*927,15/);
  await shot(page, 'sbp-desktop-2-paid');
  assert.deepEqual(await mailsOf(answer.paymentId), { received: 1, receipts: 1 });

  await page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await context.close();
});

test('on a computer, a СБП payment declined in the bank app ends on «Оплата отклонена», nothing paid (1280 px)', async () => {
  const { page, context } = await vkPage(DESKTOP, 'desktop_web');
  await lookUp(page, '10000-000-95');
  await page.getByTestId('balance').waitFor();
  // Its own amount: a run before may have paid the debt already.
  await page.locator('input[name=amount]').fill('154,60');
  await page.locator('input[name=email]').fill(`sbp-declined-${RUN}@example.ru`);
  const created = page.waitForResponse((r) => r.url().endsWith('/payments') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Оплатить через СБП' }).click();
  const answer = await (await created).json();
  await page.getByTestId('sbp-screen').getByRole('img').waitFor();

  const phone = await context.newPage();
  await phone.goto(answer.paymentUrl);
  await phone.getByRole('button', { name: 'Отклонить' }).click();
  await phone.getByText('Оплата не прошла').waitFor();
  await phone.close();

  await page.locator('[data-sbp-state=declined]').waitFor({ timeout: SETTLE_MS });
  assert.match(await page.getByTestId('sbp-screen').innerText(), /Оплата отклонена[\s\S]*деньги не списаны/);
  await shot(page, 'sbp-desktop-3-declined');
  await page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await page.getByTestId('balance').waitFor();
  await context.close();
});
