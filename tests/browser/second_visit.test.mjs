// The customer's second visit, in Debian's chromium against the test stack: the accounts remembered
// on the customer's side (VK's storage inside VK, the browser's elsewhere), the email prefilled,
// and why a meter takes no readings today.
//
// Inside VK the page talks to VK's client through vk-bridge; here a stand-in for VK's Android
// client (window.AndroidBridge, answering with VKWebAppEvent as the client does) keeps the user's
// VK storage and answers VKWebAppGetEmail, and the test carries that storage from one visit to the
// next as VK's servers would. Accounts of the run's own are imported first. Run by
// scripts/web.sh test; the environment it needs is listed in support.mjs.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  DESKTOP,
  PHONE,
  SES_URL,
  SETTLE_MS,
  WEB_ORIGIN,
  closedMetersAccount,
  closedWindowDays,
  demo,
  importNow,
  launchChromium,
  lookUp,
  openFacebookTab,
  payOnSandbox,
  shot,
} from './support.mjs';

const RUN = Date.now().toString(36);
const USER = String(810000 + Number(process.env.VK_LAUNCH_USER_BASE ?? 0));
const HOME = '10000-000-81';
const DACHA = '10000-000-82';
const CLOSED = '10000-000-83';

let browser;

before(async () => {
  const plain = (account, balance) => ({
    account,
    address: { town: 'г. Москва', street: 'ул. Остоженка', house: 'д. 5', flat: '12' },
    balance,
    tariffGroup: 'gas-stove',
    meters: [
      {
        id: `СЕ101-${account.replace(/\D/g, '')}`,
        serial: account.replace(/\D/g, ''),
        zoneSet: 'single',
        digits: 6,
        window: { fromDay: 1, toDay: 31 },
        lastReadings: { T1: { value: 12000, date: '2026-10-24' } },
      },
    ],
  });
  importNow('second-visit', [plain(HOME, '-150.00'), plain(DACHA, '-275.40'), closedMetersAccount(CLOSED)]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
});

// VK's Android client as the page's bridge sees it (window.AndroidBridge, answers as VKWebAppEvent);
// what it keeps and is asked lives on the test's side (`host`), so it outlasts the page's
// navigations (to the bank's form and back) as VK's storage does.
function vkClient({ appearance }) {
  const reply = (type, data) => window.dispatchEvent(new CustomEvent('VKWebAppEvent', { detail: { type, data } }));
  const forward = (method) => (raw) => {
    const params = JSON.parse(raw);
    window.__vkHostCall(method, params).then(([type, data]) => reply(type, { ...data, request_id: params.request_id }));
  };
  window.AndroidBridge = {
    VKWebAppInit(raw) {
      const { request_id: requestId } = JSON.parse(raw);
      setTimeout(() => {
        reply('VKWebAppInitResult', { result: true, request_id: requestId });
        reply('VKWebAppUpdateConfig', { appearance, insets: { top: 24, right: 0, bottom: 16, left: 0 } });
      }, 0);
    },
    VKWebAppStorageGet: forward('VKWebAppStorageGet'),
    VKWebAppStorageSet: forward('VKWebAppStorageSet'),
    VKWebAppGetEmail: forward('VKWebAppGetEmail'),
  };
}

function answerAsVk(host, method, params) {
  if (method === 'VKWebAppStorageGet') {
    return ['VKWebAppStorageGetResult', { keys: params.keys.map((key) => ({ key, value: host.storage[key] ?? '' })) }];
  }
  if (method === 'VKWebAppStorageSet') {
    host.storage[params.key] = params.value;
    return ['VKWebAppStorageSetResult', { result: true }];
  }
  host.asked.push(method);
  if (host.email === null) {
    return ['VKWebAppGetEmailFailed', { error_type: 'client_error', error_data: { error_code: 4, error_reason: 'User denied' } }];
  }
  return ['VKWebAppGetEmailResult', { email: host.email, sign: 'signed-by-vk' }];
}

// `theme` is VK's appearance; `system` the browser's own colour scheme, the same unless told.
async function vkVisit({ viewport = PHONE, theme = 'light', system = theme, storage = {}, email = null, vkPlatform = 'mobile_android', device } = {}) {
  const context = await browser.newContext({ viewport, colorScheme: system, locale: 'ru-RU', storageState: device });
  const host = { storage: { ...storage }, email, asked: [] };
  await context.exposeFunction('__vkHostCall', (method, params) => answerAsVk(host, method, params));
  await context.addInitScript(vkClient, { appearance: theme });
  const page = await context.newPage();
  const launch = demo('vk-launch', '--user', USER, '--platform', vkPlatform);
  await page.goto(`${WEB_ORIGIN}/?${launch}`);
  await page.locator('input[name=account]').waitFor();
  return { context, page, host };
}

const until = async (check) => {
  const deadline = Date.now() + 10000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not so after 10 s: ${check}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};
const savedAccounts = (page) => page.getByTestId('saved-account').evaluateAll((rows) => rows.map((row) => row.dataset.account));

test('a returning VK user finds two saved accounts, the last opened first, and pays the second with VK\'s email prefilled', async () => {
  // The first visit: a stored value that is not ours is ignored, and so is an address VK gives
  // that is no address.
  const first = await vkVisit({ storage: { accounts: 'sa1:[{"a":"../../etc","t":1}]' }, email: 'не-адрес' });
  assert.equal(await first.page.getByTestId('saved-accounts').count(), 0, 'a foreign value shows no accounts');
  await lookUp(first.page, HOME);
  await first.page.getByTestId('balance').waitFor();
  assert.equal(await first.page.locator('input[name=email]').inputValue(), '', 'VK\'s invalid address is not used');
  await lookUp(first.page, DACHA);
  await first.page.getByText('Задолженность 275,40\u00a0₽').waitFor();
  await until(() => (first.host.storage.accounts ?? '').includes('1000000082'));
  const { storage } = first.host;
  await first.context.close();

  // The second visit, on another day: both accounts, the last opened first; one gets a name.
  const vkEmail = `vk-${RUN}@example.ru`;
  const second = await vkVisit({ storage, email: vkEmail });
  await second.page.getByTestId('saved-accounts').waitFor();
  assert.deepEqual(await savedAccounts(second.page), [DACHA, HOME]);
  await shot(second.page, 'second-visit-phone-light-1-saved');
  await second.page.getByRole('button', { name: `Назвать лицевой счёт ${DACHA}` }).click();
  await second.page.locator('input[name=account-name]').fill('Дача');
  await shot(second.page, 'second-visit-phone-light-2-naming');
  await second.page.getByRole('button', { name: 'Сохранить' }).click();
  await second.page.getByText('Дача', { exact: true }).waitFor();
  assert.match(second.host.storage.accounts, /Дача/, 'the name is kept in VK\'s storage');

  // The second of the two, with the address VK gave.
  await second.page.getByTestId('saved-account').nth(1).getByText(`Лицевой счёт ${HOME}`).click();
  await second.page.getByText('Задолженность 150,00\u00a0₽').waitFor();
  await second.page.waitForFunction((email) => document.querySelector('input[name=email]')?.value === email, vkEmail);
  await second.page.getByRole('button', { name: 'Оплатить картой' }).click();
  await payOnSandbox(second.page, { pan: '2200770239097761' });
  await second.page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  await second.page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await second.page.getByText('Задолженности нет').waitFor();
  assert.ok(second.host.asked.includes('VKWebAppGetEmail'), 'VK was asked for the address');
  // The same phone: its browser storage goes on to the next visit.
  const device = await second.context.storageState();
  const after = second.host.storage;
  await second.context.close();

  // The third visit: the account paid is first now; one removed stays removed.
  const third = await vkVisit({ storage: after, email: null, device });
  await third.page.getByTestId('saved-accounts').waitFor();
  assert.deepEqual(await savedAccounts(third.page), [HOME, DACHA]);
  await third.page.getByRole('button', { name: `Убрать из списка лицевой счёт ${HOME}` }).click();
  await third.page.waitForFunction(() => document.querySelectorAll('[data-testid=saved-account]').length === 1);
  assert.deepEqual(await savedAccounts(third.page), [DACHA]);
  await until(() => !third.host.storage.accounts.includes('1000000081'));
  // VK refused the address: the last payment's on this device is offered instead.
  await third.page.getByText('Дача', { exact: true }).click();
  await third.page.getByTestId('balance').waitFor();
  await third.page.waitForFunction((email) => document.querySelector('input[name=email]')?.value === email, vkEmail);
  await third.context.close();
});

test('at most five accounts are kept, the oldest dropped', async () => {
  const visit = await vkVisit({ viewport: DESKTOP });
  for (const account of ['10000-000-01', '10000-000-02', '10000-000-03', '10000-000-04', '10000-000-05', '10000-000-06']) {
    await lookUp(visit.page, account);
    await visit.page.getByTestId('balance').waitFor();
    const digits = account.replace(/\D/g, '');
    await until(() => (visit.host.storage.accounts ?? '').includes(digits));
  }
  const stored = JSON.parse(visit.host.storage.accounts.slice('sa1:'.length));
  assert.deepEqual(
    stored.map((entry) => entry.a),
    ['1000000006', '1000000005', '1000000004', '1000000003', '1000000002'],
  );
  await visit.context.close();
});

test('outside VK the Facebook tab keeps the accounts in the browser\'s storage', async () => {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'ru-RU' });
  const page = await context.newPage();
  await openFacebookTab(page, demo('fb-signed-request', '--user', '100009990000081'));
  await lookUp(page, DACHA);
  await page.getByTestId('balance').waitFor();
  await page.waitForFunction(() => window.localStorage.getItem('energosbyt.saved-accounts') !== null);
  const again = await context.newPage();
  await openFacebookTab(again, demo('fb-signed-request', '--user', '100009990000081'));
  await again.getByTestId('saved-accounts').waitFor();
  assert.deepEqual(await savedAccounts(again), [DACHA]);
  assert.match(await again.evaluate(() => window.localStorage.getItem('energosbyt.saved-accounts')), /^sa1:/);
  await context.close();
});

test('a closed window says the meter\'s days and the next opening date by the page\'s clock; automatic and faulty meters say why', async () => {
  const { fromDay, toDay } = closedWindowDays();
  for (const viewport of [PHONE, DESKTOP]) {
    for (const theme of ['light', 'dark']) {
      // The system's scheme the opposite of VK's: VK's wins.
      const system = theme === 'dark' ? 'light' : 'dark';
      const visit = await vkVisit({ viewport, theme, system, vkPlatform: viewport === DESKTOP ? 'desktop_web' : 'mobile_iphone' });
      // Three days before today on the page's clock: the service's window is still the same.
      await visit.page.clock.setFixedTime(new Date(Date.now() - 3 * 86400000));
      await lookUp(visit.page, CLOSED);
      await visit.page.getByTestId('meter-closed').first().waitFor();
      const closed = visit.page.getByTestId('meter-closed');
      assert.equal(await closed.count(), 3, 'all three meters take no readings today');
      assert.equal(await visit.page.getByRole('button', { name: 'Оплатить по показаниям' }).count(), 0);
      const [window, automatic, faulty] = await closed.allInnerTexts();
      assert.match(window, new RegExp(`Показания принимаются с ${fromDay} по ${toDay} число\\. Следующий приём: с \\d\\d\\.\\d\\d\\.\\d{4}`));
      if (fromDay > 1) assert.match(window, /\(через 4 дня\)/, 'counted from the page\'s clock');
      assert.match(automatic, /передаются автоматически/);
      assert.match(faulty, /неисправным/);
      // VKUI's look as the VK client asked: iOS on the phone, vk.com on the desktop; the insets
      // the client reported reach the layout.
      const header = await visit.page.locator('.vkuiPanelHeader__host, [class*=vkuiPanelHeader]').first().getAttribute('class');
      if (viewport === DESKTOP) assert.match(header, /vkuiInternalPanelHeader--vkcom/, header);
      else assert.match(header, /vkuiPanelHeader__ios/, header);
      const inset = await visit.page.evaluate(() =>
        getComputedStyle(document.querySelector('input[name=account]')).getPropertyValue('--vkui_internal--safe_area_inset_top'),
      );
      assert.equal(inset.trim(), '24px', 'the safe-area inset VK reported');
      const dark = await visit.page.evaluate(() => Boolean(document.querySelector('.vkui--vkBase--dark, .vkui--vkCom--dark, .vkui--vkIOS--dark')));
      assert.equal(dark, theme === 'dark', 'VKUI in the appearance VK reported');
      await shot(visit.page, `second-visit-${viewport.width}-${theme}-closed-window`);
      await visit.page.goto(`${WEB_ORIGIN}/`);
      await visit.context.close();
    }
  }
});

test('«Мои платежи» lists the user\'s payments newest first with status, amount, masked account and date (360 and 1280 px, light and dark)', async () => {
  for (const viewport of [PHONE, DESKTOP]) {
    for (const theme of ['light', 'dark']) {
      const visit = await vkVisit({ viewport, theme, vkPlatform: viewport === DESKTOP ? 'desktop_web' : 'mobile_android' });
      await visit.page.getByRole('link', { name: 'Мои платежи' }).click();
      await visit.page.getByTestId('payment-line').first().waitFor();
      const first = visit.page.getByTestId('payment-line').first();
      assert.equal(await first.getAttribute('data-status'), 'PAID');
      const text = await first.innerText();
      assert.match(text, /150,00\u00a0₽/);
      assert.match(text, /Оплачен · лицевой счёт \*{5}-\*{3}-81 · \d\d\.\d\d\.\d{4}/);
      await shot(visit.page, `second-visit-${viewport.width}-${theme}-payments`);
      await visit.page.getByRole('link', { name: 'К оплате' }).click();
      await visit.page.locator('input[name=account]').waitFor();
      await visit.context.close();
    }
  }
});

test('an anonymous visitor of the Facebook tab is told the list needs a sign-in', async () => {
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'ru-RU' });
  const page = await context.newPage();
  await openFacebookTab(page, demo('fb-signed-request', '--anonymous'));
  await page.getByRole('link', { name: 'Мои платежи' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal(await alert.getAttribute('data-problem'), '/problems/history-needs-sign-in');
  await context.close();
});

async function mailsTo(address) {
  const data = await (await fetch(`${SES_URL}/moto-api/data.json`)).json();
  return (data.ses?.RawMessage ?? []).filter((mail) => JSON.stringify(mail.destinations ?? []).includes(address));
}

test('a paid payment\'s receipt opens as a printable page and a copy sent again lands at the mail service (360 and 1280 px, light and dark)', async () => {
  // A payment of its own, so the day's three copies are this test's.
  const email = `receipt-${RUN}@example.ru`;
  const payer = await vkVisit({ viewport: DESKTOP, email });
  await lookUp(payer.page, DACHA);
  await payer.page.getByTestId('balance').waitFor();
  await payer.page.locator('input[name=amount]').fill('10,00');
  await payer.page.waitForFunction((e) => document.querySelector('input[name=email]')?.value === e, email);
  await payer.page.getByRole('button', { name: 'Оплатить картой' }).click();
  await payOnSandbox(payer.page, { pan: '2200770239097761' });
  await payer.page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  const paymentId = new URL(payer.page.url()).hash.match(/paymentId=([^&]+)/)[1];
  await payer.context.close();

  let combo = 0;
  for (const viewport of [PHONE, DESKTOP]) {
    for (const theme of ['light', 'dark']) {
      const visit = await vkVisit({ viewport, theme, vkPlatform: viewport === DESKTOP ? 'desktop_web' : 'mobile_android' });
      await visit.page.getByRole('link', { name: 'Мои платежи' }).click();
      await visit.page.locator(`a[href*="${paymentId}"]`).click();
      // The bank's receipt may come a moment after the payment: the page is opened again until it has.
      const deadline = Date.now() + SETTLE_MS;
      while ((await visit.page.getByTestId('receipt').count()) === 0) {
        if (Date.now() > deadline) throw new Error('no receipt page');
        if ((await visit.page.getByRole('alert').count()) > 0) {
          await visit.page.waitForTimeout(1000);
          await visit.page.reload();
        }
        await visit.page.waitForTimeout(200);
      }
      assert.match(await visit.page.getByTestId('receipt-total').innerText(), /10,00\u00a0₽/);
      assert.match(await visit.page.getByTestId('receipt-fd').innerText(), /\d+/);
      assert.match(await visit.page.getByTestId('receipt-qr').getAttribute('src'), /^data:image\/png;base64,/);
      await shot(visit.page, `second-visit-${viewport.width}-${theme}-receipt`);
      if (combo === 0) {
        // Printed: the receipt without the buttons.
        await visit.page.emulateMedia({ media: 'print' });
        assert.equal(await visit.page.getByRole('button', { name: 'Распечатать' }).isVisible(), false);
        await shot(visit.page, 'second-visit-receipt-print');
        await visit.page.emulateMedia({ media: 'screen' });
        const before = (await mailsTo(email)).length;
        await visit.page.getByRole('button', { name: 'Отправить чек на почту ещё раз' }).click();
        await visit.page.getByTestId('receipt-sent').waitFor();
        assert.equal((await mailsTo(email)).length, before + 1, 'the copy reached the mail service');
        const copy = (await mailsTo(email)).at(-1);
        assert.match(Buffer.from(copy.raw_data ?? '').toString(), /Subject:/);
      }
      combo += 1;
      await visit.context.close();
    }
  }
});
