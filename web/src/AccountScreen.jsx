import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { Button, Div, FormItem, Group, Header, Input, SimpleCell, Text, VisuallyHidden } from '@vkontakte/vkui';
import { Problem, intentKeys } from './api.js';
import { editAccount } from './accountMask.js';
import { formatRub, isDebt, isZero, parseAmount } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';
import { ReadingsForm } from './ReadingsForm.jsx';
import { goToPaymentForm } from './payment.js';
import { openSbpLink, opensSbpLinkDirectly } from './sbp.js';
import { SbpQrScreen } from './SbpQrScreen.jsx';
import { SavedAccounts } from './SavedAccounts.jsx';
import { ReminderSwitch } from './ReminderSwitch.jsx';
import { PaymentsLink } from './PaymentsScreen.jsx';
import { rememberAccountOpened } from './savedAccounts.js';
import { isEmail, prefillEmail, rememberPaymentEmail } from './email.js';
import { closedWindowText, formatDate } from './readingsWindowText.js';

export { formatDate };

const ACCOUNT_KEY = 'energosbyt.account';

function rememberedAccount() {
  try {
    return window.sessionStorage.getItem(ACCOUNT_KEY) ?? '';
  } catch {
    return '';
  }
}

function remember(account) {
  try {
    window.sessionStorage.setItem(ACCOUNT_KEY, account);
  } catch {
    // Without storage the customer types the number again after the payment form.
  }
}

function balanceLine(balance) {
  if (isZero(balance)) return 'Задолженности нет';
  return isDebt(balance) ? `Задолженность ${formatRub(balance)}` : `Переплата ${formatRub(balance)}`;
}

// A screen's heading that takes the focus when the screen replaces the control that had it, so
// a keyboard or screen-reader user goes on from there instead of from the top of the page.
export function useFocusOnShow(shown) {
  const ref = useRef(null);
  useEffect(() => {
    if (shown) ref.current?.focus();
  }, [shown]);
  return ref;
}

export function AccountScreen({ api, launch }) {
  // The field's value and where its caret goes after the mask rewrote it.
  const [field, setField] = useState(() => ({ value: rememberedAccount(), caret: null }));
  const typed = field.value;
  const accountInput = useRef(null);
  const [account, setAccount] = useState(null);
  const [problem, setProblem] = useState(null);
  const [loading, setLoading] = useState(false);
  const [readingsMeter, setReadingsMeter] = useState(null);
  // What a screen reader announces once a look-up is answered (a refusal is an alert of its own).
  const [announced, setAnnounced] = useState('');
  const [backFromReadings, setBackFromReadings] = useState(false);
  // Bumped when the list of saved accounts changed, so it is read again.
  const [savedVersion, setSavedVersion] = useState(0);

  useLayoutEffect(() => {
    const input = accountInput.current;
    if (field.caret !== null && input && document.activeElement === input) {
      input.setSelectionRange(field.caret, field.caret);
    }
  }, [field]);

  async function lookUp(number) {
    setLoading(true);
    setProblem(null);
    setAccount(null);
    setReadingsMeter(null);
    setAnnounced('');
    try {
      const found = await api.lookUp(number);
      remember(found.account);
      rememberAccountOpened(launch, found.account).then(() => setSavedVersion((v) => v + 1));
      setAccount(found);
      setAnnounced(`Найден лицевой счёт ${found.account}`);
    } catch (error) {
      setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось найти лицевой счёт.' }));
    } finally {
      setLoading(false);
    }
  }

  // Back from the bank's form: the last account is shown again with its new balance.
  useEffect(() => {
    const number = rememberedAccount();
    if (number.replace(/\D/g, '').length === 10) lookUp(number);
  }, []);

  const complete = typed.replace(/\D/g, '').length === 10;

  return (
    <>
      <Group>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            setBackFromReadings(false);
            if (complete) lookUp(typed);
          }}
        >
          <FormItem
            top="Лицевой счёт"
            topMultiline
            htmlFor="account"
            bottom="10 цифр, как в квитанции: 12345-678-90"
            bottomId="account-hint"
          >
            <Input
              id="account"
              name="account"
              inputMode="numeric"
              autoComplete="off"
              placeholder="12345-678-90"
              aria-describedby="account-hint"
              getRef={accountInput}
              value={typed}
              onChange={(event) => {
                const input = event.target;
                const caret = input.selectionStart ?? input.value.length;
                setField(editAccount(typed, input.value, caret, event.nativeEvent?.inputType));
              }}
            />
          </FormItem>
          <FormItem>
            <Button type="submit" size="l" stretched disabled={!complete || loading} loading={loading}>
              Найти
            </Button>
          </FormItem>
        </form>
        <ProblemNote problem={problem} />
        <VisuallyHidden role="status" data-testid="look-up-status">
          {announced}
        </VisuallyHidden>
      </Group>
      {!account && !loading && (
        <SavedAccounts
          launch={launch}
          version={savedVersion}
          onOpen={(number) => {
            setField({ value: number, caret: null });
            setBackFromReadings(false);
            lookUp(number);
          }}
        />
      )}
      {!account && !loading && <PaymentsLink />}
      {account && !readingsMeter && (
        <AccountDetails
          account={account}
          api={api}
          launch={launch}
          focusHeading={backFromReadings}
          onReadings={(meter) => {
            setBackFromReadings(false);
            setReadingsMeter(meter);
          }}
        />
      )}
      {account && readingsMeter && (
        <ReadingsForm
          account={account}
          meter={readingsMeter}
          api={api}
          launch={launch}
          onCancel={() => {
            setBackFromReadings(true);
            lookUp(account.account);
          }}
        />
      )}
    </>
  );
}

function AccountDetails({ account, api, launch, focusHeading, onReadings }) {
  const openMeters = account.meters.filter((meter) => meter.readingsWindow?.open);
  const closedMeters = account.meters.filter((meter) => !meter.readingsWindow?.open);
  const handedIn = account.meters.filter((meter) => meter.submitted);
  const charged = !isZero(account.chargedByReadings ?? '0');
  const heading = useFocusOnShow(focusHeading);
  return (
    <>
      <Group
        header={
          <Header multiline tabIndex={-1} getRootRef={heading}>
            Лицевой счёт {account.account}
          </Header>
        }
      >
        <SimpleCell multiline subtitle="Адрес" data-testid="address">
          {account.address}
        </SimpleCell>
        {/* With this month's readings counted, so paying what is due never shows as an overpayment. */}
        <SimpleCell multiline subtitle={charged ? 'Баланс с учётом показаний' : 'Баланс'} data-testid="balance">
          {balanceLine(account.balanceAfterReadings ?? account.balance)}
        </SimpleCell>
        {charged && (
          <SimpleCell multiline subtitle="Начислено по показаниям за этот месяц" data-testid="charged">
            {formatRub(account.chargedByReadings)}
          </SimpleCell>
        )}
        {!isZero(account.amountDue) && (
          <SimpleCell multiline subtitle="К оплате" data-testid="recommended">
            {formatRub(account.amountDue)}
          </SimpleCell>
        )}
      </Group>
      <PaymentForm account={account} api={api} launch={launch} key={account.account + account.balance + account.amountDue} />
      {handedIn.length > 0 && (
        <Group header={<Header multiline>Показания переданы</Header>}>
          {handedIn.map((meter) => (
            <SimpleCell key={meter.ref} multiline subtitle={`Счётчик ${meter.number}`} data-testid="handed-in">
              {meter.submitted.byYou ? (
                <>
                  {Object.entries(meter.submitted.values)
                    .map(([zone, value]) => `${zone}: ${value}`)
                    .join(', ')}
                  {' · начислено '}
                  {formatRub(meter.submitted.charge)}
                </>
              ) : (
                // Another user's: they alone see and correct the figures; anyone may pay.
                `Показания за этот месяц уже переданы ${formatDate(meter.submitted.submittedOn)}`
              )}
            </SimpleCell>
          ))}
        </Group>
      )}
      {account.meters.length > 0 && (
        <Group header={<Header multiline>Показания счётчика</Header>}>
          {closedMeters.map((meter) => (
            <Div key={meter.ref} data-testid="meter-closed" data-never-because={meter.readingsWindow?.neverBecause}>
              <Text>
                Счётчик {meter.number}: {closedWindowText(meter.readingsWindow)}
              </Text>
            </Div>
          ))}
          {openMeters.map((meter) => (
            <Div key={meter.ref} data-testid="meter">
              {meter.submitted && !meter.submitted.byYou ? (
                <Text>Счётчик {meter.number}: показания за этот месяц уже переданы.</Text>
              ) : (
                <>
                  {/* Names the meter for the button below: one button per meter, the same words on each. */}
                  <Text id={`meter-${meter.ref}`}>
                    Счётчик {meter.number}: приём показаний открыт до {formatDate(meter.readingsWindow.to)}.
                  </Text>
                  <Button
                    size="l"
                    mode="secondary"
                    stretched
                    style={{ marginTop: 8 }}
                    aria-describedby={`meter-${meter.ref}`}
                    onClick={() => onReadings(meter)}
                  >
                    {meter.submitted ? 'Исправить показания' : 'Оплатить по показаниям'}
                  </Button>
                </>
              )}
            </Div>
          ))}
        </Group>
      )}
      <ReminderSwitch account={account.account} api={api} launch={launch} />
    </>
  );
}

export function PaymentForm({ account, api, launch, prefilled = null, readingsId = null, title = 'Оплата' }) {
  // Prefilled, never locked: a customer may pay more or less than what is due, and an amount the
  // payment limits refuse (a few kopecks left after a credit) must stay correctable.
  const [amount, setAmount] = useState(
    (prefilled ?? (isZero(account.amountDue) ? '' : account.amountDue)).replace('.', ','),
  );
  const [email, setEmail] = useState('');
  // VK's address of the user when they allow it, else the last payment's on this device; typing
  // first wins.
  useEffect(() => {
    let current = true;
    prefillEmail(launch).then((found) => {
      if (current && found) setEmail((typed) => (typed === '' ? found : typed));
    });
    return () => {
      current = false;
    };
  }, [launch]);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(null);
  const [sbp, setSbp] = useState(null);
  const keyFor = useMemo(intentKeys, []);
  const submitted = useRef(false);

  const parsed = parseAmount(amount);
  const emailOk = isEmail(email);

  async function pay(event, method = 'card') {
    event.preventDefault();
    if (!parsed || !emailOk || submitted.current) return;
    submitted.current = true;
    setBusy(method);
    setProblem(null);
    const payment = { account: account.account, amount: parsed, email: email.trim() };
    if (readingsId) payment.readingsId = readingsId;
    if (method === 'sbp') payment.method = 'sbp';
    try {
      const created = await api.pay(payment, keyFor(payment));
      rememberPaymentEmail(payment.email);
      if (method !== 'sbp') {
        goToPaymentForm(launch, created);
      } else if (opensSbpLinkDirectly(launch)) {
        openSbpLink(created);
      } else {
        setSbp(created);
        submitted.current = false;
        setBusy(null);
      }
    } catch (error) {
      setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось начать оплату.' }));
      submitted.current = false;
      setBusy(null);
    }
  }

  if (sbp) return <SbpQrScreen api={api} created={sbp} onBack={() => setSbp(null)} />;

  const amountWrong = amount !== '' && !parsed;
  const emailWrong = email !== '' && !emailOk;
  return (
    <Group header={<Header multiline>{title}</Header>}>
      <form onSubmit={pay} noValidate>
        <FormItem
          top="Сумма, ₽"
          topMultiline
          htmlFor="amount"
          status={amountWrong ? 'error' : 'default'}
          bottom={amountWrong ? 'Введите сумму в рублях, например 1520,37' : 'Без комиссии: зачисляется вся сумма'}
          bottomId="amount-hint"
        >
          <Input
            id="amount"
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            aria-describedby="amount-hint"
            aria-invalid={amountWrong}
            value={amount}
            onChange={(event) => setAmount(event.target.value)}
          />
        </FormItem>
        <FormItem
          top="Эл. почта для чека"
          topMultiline
          htmlFor="email"
          status={emailWrong ? 'error' : 'default'}
          bottom={emailWrong ? 'Проверьте адрес почты' : 'Пришлём чек и подтверждение оплаты'}
          bottomId="email-hint"
        >
          <Input
            id="email"
            name="email"
            type="email"
            inputMode="email"
            autoComplete="email"
            placeholder="ivanov@example.ru"
            aria-describedby="email-hint"
            aria-invalid={emailWrong}
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </FormItem>
        <ProblemNote problem={problem} />
        <FormItem>
          <Button type="submit" size="l" stretched disabled={!parsed || !emailOk || busy !== null} loading={busy === 'card'}>
            Оплатить картой
          </Button>
        </FormItem>
        <FormItem>
          <Button
            type="button"
            size="l"
            mode="secondary"
            stretched
            disabled={!parsed || !emailOk || busy !== null}
            loading={busy === 'sbp'}
            onClick={(event) => pay(event, 'sbp')}
          >
            Оплатить через СБП
          </Button>
        </FormItem>
      </form>
    </Group>
  );
}
