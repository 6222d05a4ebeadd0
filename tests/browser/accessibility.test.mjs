// Whether every customer can read and use the mini app (WCAG 2.1 A and AA), in Debian's chromium
// against the test stack: axe-core on every screen at 360 and 1280 px, in VK's light and dark
// themes and in the Facebook tab; text at 200 % at 360 px; the keyboard alone from the account
// field to the bank's form and through the readings form; what a screen reader is told.
//
// The walk uses an account of its own (accessibility-account.json, imported before it) and users of
// its own, so it neither depends on nor disturbs the demo accounts the other browser tests start
// from. Run by scripts/web.sh test (make test); the environment it needs is listed in support.mjs.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DESKTOP,
  PHONE,
  SCREENSHOTS,
  SETTLE_MS,
  WEB_ORIGIN,
  demo,
  closedMetersAccount,
  importAccounts,
  importNow,
  lastReading,
  launchChromium,
  lookUp,
  openFacebookTab,
  payOnSandbox,
  shot,
  webRequire,
} from './support.mjs';

const AXE_SCRIPT = webRequire.resolve('axe-core');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
// Rules left out of every run, each with the reason it cannot apply here. None today.
const SKIPPED_RULES = {};

const ACCOUNT = '10000-000-91';
// Meters that take no readings today: a closed window, automatic metering, a faulty meter.
const CLOSED_ACCOUNT = '10000-000-93';
// A user may correct the readings they handed in this month, so one user per host reaches
// «Показания приняты» in every combination; the other host's user owns the other meter.
const HOSTS = {
  vk: { user: '880001', meter: { serial: '5500111', shown: 'СЕ101-***111' } },
  facebook: { user: '100009990000001', meter: { serial: '5500122', shown: 'СЕ101-***122' } },
};
const CARDS = { paid: '2200770239097761', failed: '2201382000000831' };
const RUN = Date.now().toString(36);

let browser;
// Every violation found, by combination and screen, for the table printed at the end.
const findings = [];
const scanned = [];
// Text at 200 % at 360 px, by combination and screen: the page's width, texts not grown or cut off.
const enlargements = [];
// One paid and one failed payment per host, made once and shown again in every combination.
const payments = { vk: {}, facebook: {} };

before(async () => {
  importAccounts(fileURLToPath(new URL('./accessibility-account.json', import.meta.url)));
  importNow('accessibility-closed', [closedMetersAccount(CLOSED_ACCOUNT)]);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  printFindings();
});

async function open(combo) {
  const { user } = HOSTS[combo.host];
  // The tab's policy runs scripts from the web origin only, and axe is injected inline: the
  // Facebook contexts bypass it. The policy itself is checked in mini_app.test.mjs.
  const context = await browser.newContext({
    viewport: combo.viewport,
    colorScheme: combo.theme,
    locale: 'ru-RU',
    bypassCSP: combo.host === 'facebook',
  });
  const page = await context.newPage();
  if (combo.host === 'vk') {
    await page.goto(`${WEB_ORIGIN}/?${demo('vk-launch', '--user', user)}`);
  } else {
    await openFacebookTab(page, demo('fb-signed-request', '--user', user));
  }
  await page.locator('input[name=account]').waitFor();
  return { context, page };
}

// axe-core's WCAG 2.1 A/AA rules on what the page shows now; a screenshot; at 360 px the same
// screen with text at 200 %.
async function scan(page, combo, screen) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE_SCRIPT });
  const violations = await page.evaluate(
    async ({ tags, skipped }) => {
      const result = await window.axe.run(document, {
        runOnly: { type: 'tag', values: tags },
        rules: Object.fromEntries(skipped.map((id) => [id, { enabled: false }])),
        resultTypes: ['violations'],
      });
      return result.violations.map((violation) => ({
        id: violation.id,
        impact: violation.impact,
        nodes: violation.nodes.map((node) => `${node.target.join(' ')}: ${node.failureSummary.replace(/\s+/g, ' ')}`),
      }));
    },
    { tags: WCAG_TAGS, skipped: Object.keys(SKIPPED_RULES) },
  );
  scanned.push({ combo: combo.name, screen });
  for (const violation of violations) findings.push({ combo: combo.name, screen, ...violation });
  await shot(page, `a11y-${combo.name}-${screen}`);
  if (combo.viewport.width === PHONE.width) await textAt200(page, combo, screen);
}

// Text enlarged to 200 % the way a browser's font-size setting does it (the root font size): every
// text grows with it, none is cut off with an ellipsis, and the screen still fits 360 px without
// scrolling sideways.
// Left at its size: the panel header's title, VK's app bar. VKUI sets it in px outside its font
// tokens, in a bar of fixed height on one line beside the VK client's own buttons; at 20-23 px it
// is the largest text on the page already, and the same title is the document's.
const FIXED_TEXT = ['.vkuiPanelHeader__contentIn'];

async function textAt200(page, combo, screen) {
  const texts = () =>
    page.evaluate((fixed) => {
      const owned = (el) => [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
      const clipped = (el) => getComputedStyle(el).textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth + 1;
      return [...document.querySelectorAll('body *')]
        .filter((el) => el.checkVisibility() && owned(el) && !fixed.some((selector) => el.closest(selector)))
        .map((el) => ({
          text: `${el.tagName.toLowerCase()} «${el.textContent.trim().slice(0, 30)}»`,
          px: parseFloat(getComputedStyle(el).fontSize),
          cut: clipped(el) || (el.parentElement !== null && clipped(el.parentElement)),
        }));
    }, FIXED_TEXT);
  const before = await texts();
  await page.evaluate(() => {
    document.documentElement.style.fontSize = '200%';
  });
  await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
  const enlarged = await texts();
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  await shot(page, `a11y-${combo.name}-${screen}-text200`);
  await page.evaluate(() => {
    document.documentElement.style.fontSize = '';
  });
  const notGrown = before
    .map((was, i) => ({ ...was, now: enlarged[i]?.px }))
    .filter((size) => !(size.now >= size.px * 1.9));
  const cut = enlarged.filter((text) => text.cut);
  enlargements.push({ combo: combo.name, screen, width, notGrown: notGrown.length, cut: cut.length });
  if (notGrown.length > 0) {
    combo.problems.push(`${screen}: text that does not grow at 200 %: ${notGrown.map((s) => `${s.text} ${s.px}→${s.now}px`).join('; ')}`);
  }
  if (cut.length > 0) combo.problems.push(`${screen}: text cut off at 200 %: ${cut.map((s) => s.text).join('; ')}`);
  if (width > PHONE.width) combo.problems.push(`${screen}: ${width} px wide at 200 % text`);
}

// What a screen reader hears of the change just made: the text of the page's live regions
// (role=status), which must be in the page before the change to be announced at all.
async function announced(page, combo, screen, expected) {
  const live = await page.locator('[role=status]').allInnerTexts();
  const said = live.map((text) => text.replace(/\s+/g, ' ').trim()).filter(Boolean);
  if (!said.some((text) => expected.test(text))) {
    combo.problems.push(`${screen}: no live region says ${expected} (they say ${JSON.stringify(said)})`);
  }
}

// One paid and one failed payment of the host's user, through the sandbox's form, starting from
// the account screen; the page is left on the failed payment's status.
async function makePayments(page, combo) {
  for (const outcome of ['paid', 'failed']) {
    await page.locator('input[name=amount]').fill('100,00');
    await page.locator('input[name=email]').fill(`a11y-${outcome}-${RUN}@example.ru`);
    let form = page;
    if (combo.host === 'facebook') {
      // The tab opens the bank's form in a browser tab of its own and follows the status itself.
      const opened = page.context().waitForEvent('page');
      await page.getByRole('button', { name: 'Оплатить картой', exact: true }).click();
      form = await opened;
    } else {
      await page.getByRole('button', { name: 'Оплатить картой', exact: true }).click();
    }
    await payOnSandbox(form, { pan: CARDS[outcome] });
    if (form !== page) await form.close();
    await page.waitForURL(/paymentId=/);
    payments[combo.host][outcome] = new URL(page.url()).hash.match(/paymentId=([^&]+)/)[1];
    await page.locator(`[data-payment-status=${outcome}]`).waitFor({ timeout: SETTLE_MS });
    if (outcome === 'paid') {
      await page.getByRole('button', { name: 'К лицевому счёту' }).click();
      await page.getByTestId('balance').waitFor();
    }
  }
}

async function walk(combo) {
  const { context, page } = await open(combo);
  const { meter } = HOSTS[combo.host];
  await scan(page, combo, '1-start');

  await lookUp(page, '99999-999-99');
  await page.getByRole('alert').waitFor();
  await scan(page, combo, '2-unknown-account');

  await lookUp(page, ACCOUNT);
  await page.getByTestId('balance').waitFor();
  await announced(page, combo, '3-account', /^Найден лицевой счёт 10000-000-91$/);
  await scan(page, combo, '3-account');

  // The readings form with a field refused as typed (a decimal comma), then the service's refusal
  // (a lower value, unconfirmed rollover), then accepted.
  await page.getByTestId('meter').filter({ hasText: meter.shown }).getByRole('button').click();
  await page.locator('input[name=meter-number]').fill(meter.serial);
  const last = await lastReading(page, 0);
  const field = page.locator('input[name=reading-T1]');
  await field.fill(`${last + 30},5`);
  await page.getByText(/целое число кВт·ч/).waitFor();
  await scan(page, combo, '4-readings-form');
  await field.fill(String(last - 10));
  await page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').getAttribute('data-problem'), '/problems/rollover-not-confirmed');
  await scan(page, combo, '5-readings-refused');
  await field.fill(String(last + 30));
  await page.getByRole('button', { name: 'Рассчитать сумму' }).click();
  await page.getByTestId('amount-to-pay').waitFor();
  await announced(page, combo, '6-readings-accepted', /^Показания приняты\. К оплате по лицевому счёту \d/);
  await scan(page, combo, '6-readings-accepted');

  await page.getByRole('button', { name: 'Назад к лицевому счёту' }).click();
  await page.getByTestId('balance').waitFor();
  // The button pressed is gone with the readings: the focus goes on from the account's heading.
  const focus = await page.evaluate(() => document.activeElement.textContent.trim());
  if (!focus.startsWith(`Лицевой счёт ${ACCOUNT}`)) {
    combo.problems.push(`back from the readings: the focus is on «${focus.slice(0, 40)}», not on the account's heading`);
  }
  if (!payments[combo.host].failed) await makePayments(page, combo);
  for (const outcome of ['paid', 'failed']) {
    await page.evaluate((id) => {
      window.location.hash = `#/return?paymentId=${id}`;
    }, payments[combo.host][outcome]);
    await page.locator(`[data-payment-status=${outcome}]`).waitFor({ timeout: SETTLE_MS });
    await announced(page, combo, `7-${outcome}`, outcome === 'paid' ? /^Оплата прошла/ : /^Оплата не прошла/);
    await scan(page, combo, `7-${outcome}`);
  }

  // The СБП screen a computer shows: the QR with the amount, waiting for the bank app. The VK
  // launches here are desktop ones, so the QR shows at 360 px too.
  await page.getByRole('button', { name: 'К лицевому счёту' }).click();
  await page.getByTestId('balance').waitFor();
  await page.locator('input[name=amount]').fill('100,00');
  await page.locator('input[name=email]').fill(`a11y-sbp-${RUN}@example.ru`);
  await page.getByRole('button', { name: 'Оплатить через СБП' }).click();
  await page.getByTestId('sbp-screen').getByRole('img').waitFor();
  await announced(page, combo, '10-sbp-qr', /^Ждём оплату/);
  await scan(page, combo, '10-sbp-qr');

  // The next visit on the same device: the accounts opened before, one being named; then an
  // account whose meters take no readings today; then the user's payments.
  const again = await context.newPage();
  if (combo.host === 'vk') {
    await again.goto(`${WEB_ORIGIN}/?${demo('vk-launch', '--user', HOSTS.vk.user)}`);
  } else {
    await openFacebookTab(again, demo('fb-signed-request', '--user', HOSTS.facebook.user));
  }
  await again.getByTestId('saved-accounts').waitFor();
  await scan(again, combo, '11-saved-accounts');
  await again.getByRole('button', { name: `Назвать лицевой счёт ${ACCOUNT}` }).click();
  await scan(again, combo, '12-naming-account');
  await lookUp(again, CLOSED_ACCOUNT);
  await again.getByTestId('meter-closed').first().waitFor();
  await scan(again, combo, '13-readings-closed');
  // «Мои платежи», with the paid and the failed payment of the walk.
  await again.evaluate(() => {
    window.location.hash = '#/payments';
  });
  await again.getByTestId('payment-line').nth(1).waitFor();
  await scan(again, combo, '14-payments');
  // The paid payment's receipt, once the bank has sent it.
  await again.locator(`a[href*="${payments[combo.host].paid}"]`).click();
  await again.getByTestId('receipt').waitFor({ timeout: SETTLE_MS });
  await scan(again, combo, '15-receipt');
  await again.close();

  if (combo.host === 'vk') {
    // Without launch parameters: a browser outside VK, and the bank's form returning to a browser
    // tab of its own (the Facebook tab's payments).
    const bare = await context.newPage();
    await bare.goto(`${WEB_ORIGIN}/`);
    await bare.getByText('Откройте приложение во ВКонтакте').waitFor();
    await scan(bare, combo, '8-outside-vk');
    await bare.goto(`${WEB_ORIGIN}/#/return?paymentId=${payments.vk.paid}`);
    await bare.getByText('Оплата завершена на сайте банка').waitFor();
    await scan(bare, combo, '9-back-from-bank');
  }
  await context.close();

  // Every impact fails the walk, not only serious and critical: axe rates a viewport that forbids
  // zooming as moderate.
  const found = findings.filter((f) => f.combo === combo.name);
  assert.deepEqual(
    found.map((f) => `${f.screen}: ${f.id} (${f.impact}) on ${f.nodes.length}: ${f.nodes.slice(0, 3).join(' | ')}`),
    [],
    'WCAG 2.1 A/AA violations',
  );
  assert.deepEqual(combo.problems, [], 'text at 200 %, live regions');
}

for (const host of ['vk', 'facebook']) {
  for (const theme of ['light', 'dark']) {
    for (const viewport of [PHONE, DESKTOP]) {
      const combo = { host, theme, viewport, name: `${host}-${viewport.width}-${theme}`, problems: [] };
      test(`every screen passes axe's WCAG 2.1 A/AA rules, text at 200 %, live regions: ${host}, ${theme} theme, ${viewport.width} px`, () =>
        walk(combo),
      );
    }
  }
}

// «Напоминать о показаниях», shown inside VK only: VK's Android client is played (as in
// second_visit.test.mjs) so the page finds itself embedded, allows notifications, and keeps
// nothing in VK's storage. The switch off and on, in both themes at both widths.
function vkClientAllowingNotifications() {
  const reply = (type, data) => window.dispatchEvent(new CustomEvent('VKWebAppEvent', { detail: { type, data } }));
  const answers = {
    VKWebAppStorageGet: (params) => ['VKWebAppStorageGetResult', { keys: params.keys.map((key) => ({ key, value: '' })) }],
    VKWebAppStorageSet: () => ['VKWebAppStorageSetResult', { result: true }],
    VKWebAppAllowNotifications: () => ['VKWebAppAllowNotificationsResult', { result: true }],
    VKWebAppGetEmail: () => ['VKWebAppGetEmailFailed', { error_type: 'client_error', error_data: { error_code: 4 } }],
    VKWebAppInit: () => ['VKWebAppInitResult', { result: true }],
  };
  window.AndroidBridge = Object.fromEntries(
    Object.entries(answers).map(([method, answer]) => [
      method,
      (raw) => {
        const params = JSON.parse(raw);
        const [type, data] = answer(params);
        setTimeout(() => reply(type, { ...data, request_id: params.request_id }), 0);
      },
    ]),
  );
}

for (const theme of ['light', 'dark']) {
  for (const viewport of [PHONE, DESKTOP]) {
    const combo = { host: 'vk', theme, viewport, name: `vk-reminder-${viewport.width}-${theme}`, problems: [] };
    test(`the reminder switch passes axe's WCAG 2.1 A/AA rules off and on, text at 200 %: VK, ${theme} theme, ${viewport.width} px`, async () => {
      const context = await browser.newContext({ viewport, colorScheme: theme, locale: 'ru-RU' });
      await context.addInitScript(vkClientAllowingNotifications);
      const page = await context.newPage();
      // A user of its own per combination, so each starts with the reminder off.
      const user = String(880100 + (theme === 'dark' ? 2 : 0) + (viewport === DESKTOP ? 1 : 0));
      await page.goto(`${WEB_ORIGIN}/?${demo('vk-launch', '--user', user)}`);
      await lookUp(page, ACCOUNT);
      const reminder = page.getByRole('switch', { name: /Напоминать о показаниях/ });
      await reminder.waitFor();
      if (await reminder.isChecked()) {
        await page.getByText('Напоминать о показаниях', { exact: true }).click();
        await page.waitForFunction(() => document.querySelector('[data-testid=reminder-switch]')?.checked === false);
      }
      await scan(page, combo, '16-reminder-off');
      await page.getByText('Напоминать о показаниях', { exact: true }).click();
      await page.waitForFunction(() => document.querySelector('[data-testid=reminder-switch]')?.checked === true);
      await scan(page, combo, '17-reminder-on');
      await context.close();
      const found = findings.filter((f) => f.combo === combo.name);
      assert.deepEqual(
        found.map((f) => `${f.screen}: ${f.id} (${f.impact}) on ${f.nodes.length}: ${f.nodes.slice(0, 3).join(' | ')}`),
        [],
        'WCAG 2.1 A/AA violations',
      );
      assert.deepEqual(combo.problems, [], 'text at 200 %');
    });
  }
}

// The keyboard alone, as someone who cannot use a pointer goes: Tab to the next control, Enter,
// typing. Every control reached has a name and a visible focus indicator.
const KEYBOARD = { host: 'vk', theme: 'light', viewport: PHONE, name: 'vk-360-light-keyboard', problems: [] };

// The focused element: its role and name as the accessibility tree has them, and its focus
// indicator: a field's border (VKUI recolours it; 'none' when it keeps its colour at rest) or the
// outline VKUI draws around the rest.
async function focused(page) {
  const indicator = await page.evaluate(() => {
    const background = (node) => {
      for (let at = node; at; at = at.parentElement) {
        const color = getComputedStyle(at).backgroundColor;
        if (color !== 'rgba(0, 0, 0, 0)' && color !== 'transparent') return color;
      }
      return 'rgb(255, 255, 255)';
    };
    const el = document.activeElement;
    const field = el.closest('.vkuiFormField__host');
    if (field) {
      const border = getComputedStyle(field.querySelector('.vkuiFormField__border'));
      // The same field's border at rest, from the token VKUI draws it with.
      const probe = document.createElement('span');
      probe.style.color = 'var(--vkui--color_field_border_alpha)';
      field.append(probe);
      const rest = getComputedStyle(probe).color;
      probe.remove();
      return {
        kind: border.borderTopColor === rest ? 'none' : 'border',
        color: border.borderTopColor,
        width: parseFloat(border.borderTopWidth),
        against: background(field.parentElement),
      };
    }
    const style = getComputedStyle(el);
    const inside = parseFloat(style.outlineOffset) < 0;
    return {
      kind: style.outlineStyle === 'none' ? 'none' : 'outline',
      color: style.outlineColor,
      width: parseFloat(style.outlineWidth),
      against: inside ? background(el) : background(el.parentElement),
    };
  });
  const snapshot = await page.locator(':focus').ariaSnapshot().catch(() => '');
  return { snapshot: snapshot.trim(), indicator };
}

function rgb(css) {
  return css.match(/[\d.]+/g).slice(0, 3).map(Number);
}

function contrast(a, b) {
  const luminance = (color) => {
    const [r, g, bl] = rgb(color).map((c) => {
      const v = c / 255;
      return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

// Tab until `wanted` (a role and name as in an ARIA snapshot) has the focus; every stop on the way
// must have a name and a visible focus indicator (3:1 against what is around it).
async function tabTo(page, wanted, max = 12) {
  for (let presses = 1; presses <= max; presses += 1) {
    await page.keyboard.press('Tab');
    const stop = await focused(page);
    assert.match(stop.snapshot, /^- \w+ "[^"]+"/, `a control without a name: ${stop.snapshot}`);
    const { kind, color, width, against } = stop.indicator;
    assert.ok(kind !== 'none' && width >= 1, `no focus indicator on ${stop.snapshot}`);
    assert.ok(contrast(color, against) >= 3, `focus indicator of ${stop.snapshot}: ${color} on ${against} is below 3:1`);
    if (wanted.test(stop.snapshot)) return stop;
  }
  throw new Error(`${wanted} not reached in ${max} presses of Tab`);
}

async function selectAllAndType(page, text) {
  await page.keyboard.press('Control+A');
  await page.keyboard.type(text);
}

test('the keyboard alone: account number, look-up, amount and email, to the bank\'s form; back from "paid" to the account (VK, 360 px)', async () => {
  const { context, page } = await open(KEYBOARD);
  await tabTo(page, /^- textbox "Лицевой счёт"/, 1);
  await page.keyboard.type('1000000091');
  assert.equal(await page.locator('#account').inputValue(), '10000-000-91', 'the mask as typed');

  // What a screen reader is told about the field: its label, the whole masked value, the hint.
  const cdp = await context.newCDPSession(page);
  const { nodes } = await cdp.send('Accessibility.getFullAXTree');
  const box = nodes.find((node) => node.role?.value === 'textbox' && node.name?.value === 'Лицевой счёт');
  assert.equal(box?.value?.value, '10000-000-91');
  assert.equal(box?.description?.value, '10 цифр, как в квитанции: 12345-678-90');

  // Editing in the middle keeps the caret where it was; Backspace over a dash takes the digit before it.
  const caret = () => page.locator('#account').evaluate((input) => input.selectionStart);
  for (let i = 0; i < 4; i += 1) await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Backspace');
  assert.equal(await caret(), 7, 'the caret stays after the digits before it');
  await page.keyboard.type('0');
  assert.equal(await page.locator('#account').inputValue(), '10000-000-91', 'a digit typed where the caret is');
  assert.equal(await caret(), 8);
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.press('Backspace');
  assert.equal(await page.locator('#account').inputValue(), '10000-009-1', 'the digit before the dash deleted');
  assert.equal(await caret(), 4);
  await selectAllAndType(page, '1000000091');

  await page.keyboard.press('Enter');
  await page.getByTestId('balance').waitFor();
  await tabTo(page, /^- textbox "Сумма, ₽"/);
  await selectAllAndType(page, '150,00');
  await tabTo(page, /^- textbox "Эл\. почта для чека"/);
  await page.keyboard.type(`keyboard-${RUN}@example.ru`);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/pay\//, { timeout: 20000 });

  // The bank's form is the bank's page, not ours; back on ours, the outcome is announced.
  await payOnSandbox(page, { pan: CARDS.paid });
  await page.locator('[data-payment-status=paid]').waitFor({ timeout: SETTLE_MS });
  await announced(page, KEYBOARD, 'paid', /^Оплата прошла/);
  await tabTo(page, /^- button "К лицевому счёту"/);
  await page.keyboard.press('Enter');
  await page.getByTestId('balance').waitFor();
  assert.deepEqual(KEYBOARD.problems, []);
  await context.close();
});

test('the keyboard alone through the readings form: the meter\'s button, the number off the meter, the reading, accepted, to the bank\'s form (VK, 360 px)', async () => {
  const { context, page } = await open(KEYBOARD);
  const { meter } = HOSTS.vk;
  await tabTo(page, /^- textbox "Лицевой счёт"/, 1);
  await page.keyboard.type('1000000091');
  await page.keyboard.press('Enter');
  await page.getByTestId('balance').waitFor();

  // One button per meter, the same words on each: the meter it is for is its description.
  const button = await tabTo(page, /^- button "(Оплатить по показаниям|Исправить показания)"/);
  const described = await page.locator(':focus').evaluate((el) => document.getElementById(el.getAttribute('aria-describedby'))?.textContent);
  assert.match(described ?? '', new RegExp(`Счётчик ${meter.shown.replace(/\*/g, '\\*')}`), `${button.snapshot} says which meter`);
  await page.keyboard.press('Enter');

  // The form's heading takes the focus from the button that opened it.
  const heading = await page.evaluate(() => document.activeElement.textContent);
  assert.match(heading, /Показания: счётчик/, 'the focus moves to the readings form');
  await tabTo(page, /^- textbox "Номер счётчика"/, 1);
  await selectAllAndType(page, meter.serial);
  const last = await lastReading(page, 0);
  await tabTo(page, /^- textbox "T1/, 1);
  await selectAllAndType(page, String(last + 31));
  await page.keyboard.press('Enter');
  await page.getByTestId('amount-to-pay').waitFor();

  // Accepted: announced, and the focus on the answer's heading, on the way to paying it.
  await announced(page, KEYBOARD, 'readings accepted', /^Показания приняты/);
  assert.match(await page.evaluate(() => document.activeElement.textContent), /^Показания приняты/);
  await tabTo(page, /^- textbox "Эл\. почта для чека"/);
  await page.keyboard.type(`keyboard-readings-${RUN}@example.ru`);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/pay\//, { timeout: 20000 });
  assert.deepEqual(KEYBOARD.problems, []);
  await context.close();
});

// Violations by screen and rule, one column per combination: what the walk found, every impact.
function printFindings() {
  const combos = [...new Set(scanned.map((s) => s.combo))];
  const screens = [...new Set(scanned.map((s) => s.screen))].sort();
  const lines = [`| screen | rule (impact) | ${combos.join(' | ')} |`, `|---|---|${combos.map(() => '---').join('|')}|`];
  for (const screen of screens) {
    const rules = [...new Set(findings.filter((f) => f.screen === screen).map((f) => `${f.id} (${f.impact})`))];
    if (rules.length === 0) {
      lines.push(`| ${screen} | none | ${combos.map((c) => (scanned.some((s) => s.combo === c && s.screen === screen) ? '0' : '')).join(' | ')} |`);
    }
    for (const rule of rules) {
      const counts = combos.map((combo) => {
        const found = findings.find((f) => f.combo === combo && f.screen === screen && `${f.id} (${f.impact})` === rule);
        return found ? String(found.nodes.length) : scanned.some((s) => s.combo === combo && s.screen === screen) ? '0' : '';
      });
      lines.push(`| ${screen} | ${rule} | ${counts.join(' | ')} |`);
    }
  }
  console.log(`axe-core WCAG 2.1 A/AA violations (elements) by screen:\n${lines.join('\n')}`);
  const phones = [...new Set(enlargements.map((e) => e.combo))];
  const rows = [`| screen | ${phones.join(' | ')} |`, `|---|${phones.map(() => '---').join('|')}|`];
  for (const screen of screens) {
    const cells = phones.map((combo) => {
      const e = enlargements.find((x) => x.combo === combo && x.screen === screen);
      if (!e) return '';
      return [`${e.width} px`, e.notGrown && `${e.notGrown} not grown`, e.cut && `${e.cut} cut off`].filter(Boolean).join(', ');
    });
    if (cells.some(Boolean)) rows.push(`| ${screen} | ${cells.join(' | ')} |`);
  }
  console.log(`Text at 200 % at 360 px: the page's width, texts that did not grow or were cut off:\n${rows.join('\n')}`);
  writeFileSync(join(SCREENSHOTS, 'axe-findings.json'), JSON.stringify(findings, null, 2));
}
