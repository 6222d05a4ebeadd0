import { useEffect, useMemo, useRef, useState } from 'react';
import { Button, Div, FormItem, Group, Header, Input, SimpleCell, Text } from '@vkontakte/vkui';
import { Problem, intentKeys } from './api.js';
import { formatRub, isDebt, isZero, maskAccount, parseAmount } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';
import { ReadingsForm } from './ReadingsForm.jsx';
import { goToPaymentForm } from './payment.js';

const ACCOUNT_KEY = 'energosbyt.account';
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

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

export function AccountScreen({ api, launch }) {
  const [typed, setTyped] = useState(rememberedAccount);
  const [account, setAccount] = useState(null);
  const [problem, setProblem] = useState(null);
  const [loading, setLoading] = useState(false);
  const [readingsMeter, setReadingsMeter] = useState(null);

  async function lookUp(number) {
    setLoading(true);
    setProblem(null);
    setAccount(null);
    setReadingsMeter(null);
    try {
      const found = await api.lookUp(number);
      remember(found.account);
      setAccount(found);
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
            if (complete) lookUp(typed);
          }}
        >
          <FormItem
            top="Лицевой счёт"
            htmlFor="account"
            bottom="10 цифр, как в квитанции: 12345-678-90"
          >
            <Input
              id="account"
              name="account"
              inputMode="numeric"
              autoComplete="off"
              placeholder="12345-678-90"
              value={typed}
              onChange={(event) => setTyped(maskAccount(event.target.value))}
            />
          </FormItem>
          <FormItem>
            <Button type="submit" size="l" stretched disabled={!complete || loading} loading={loading}>
              Найти
            </Button>
          </FormItem>
        </form>
        <ProblemNote problem={problem} />
      </Group>
      {account && !readingsMeter && (
        <AccountDetails account={account} api={api} launch={launch} onReadings={setReadingsMeter} />
      )}
      {account && readingsMeter && (
        <ReadingsForm
          account={account}
          meter={readingsMeter}
          api={api}
          launch={launch}
          onCancel={() => lookUp(account.account)}
        />
      )}
    </>
  );
}

function AccountDetails({ account, api, launch, onReadings }) {
  const openMeters = account.meters.filter((meter) => meter.readingsWindow?.open);
  const handedIn = account.meters.filter((meter) => meter.submitted);
  const charged = !isZero(account.chargedByReadings ?? '0');
  return (
    <>
      <Group header={<Header>Лицевой счёт {account.account}</Header>}>
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
        <Group header={<Header>Показания переданы</Header>}>
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
      {openMeters.length > 0 && (
        <Group header={<Header>Показания счётчика</Header>}>
          {openMeters.map((meter) => (
            <Div key={meter.ref} data-testid="meter">
              {meter.submitted && !meter.submitted.byYou ? (
                <Text>Счётчик {meter.number}: показания за этот месяц уже переданы.</Text>
              ) : (
                <>
                  <Text>
                    Счётчик {meter.number}: приём показаний открыт до {formatDate(meter.readingsWindow.to)}.
                  </Text>
                  <Button
                    size="l"
                    mode="secondary"
                    stretched
                    style={{ marginTop: 8 }}
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
    </>
  );
}

export function formatDate(iso) {
  if (!iso) return '';
  const [year, month, day] = iso.split('-');
  return `${day}.${month}.${year}`;
}

export function PaymentForm({ account, api, launch, fixedAmount = null, readingsId = null, title = 'Оплата' }) {
  const [amount, setAmount] = useState(
    (fixedAmount ?? (isZero(account.amountDue) ? '' : account.amountDue)).replace('.', ','),
  );
  const [email, setEmail] = useState('');
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const keyFor = useMemo(intentKeys, []);
  const submitted = useRef(false);

  const parsed = fixedAmount ?? parseAmount(amount);
  const emailOk = EMAIL_PATTERN.test(email.trim());

  async function pay(event) {
    event.preventDefault();
    if (!parsed || !emailOk || submitted.current) return;
    submitted.current = true;
    setBusy(true);
    setProblem(null);
    const payment = { account: account.account, amount: parsed, email: email.trim() };
    if (readingsId) payment.readingsId = readingsId;
    try {
      const created = await api.pay(payment, keyFor(payment));
      goToPaymentForm(launch, created);
    } catch (error) {
      setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось начать оплату.' }));
      submitted.current = false;
      setBusy(false);
    }
  }

  return (
    <Group header={<Header>{title}</Header>}>
      <form onSubmit={pay} noValidate>
        <FormItem
          top="Сумма, ₽"
          htmlFor="amount"
          status={amount !== '' && !parsed ? 'error' : 'default'}
          bottom={
            amount !== '' && !parsed
              ? 'Введите сумму в рублях, например 1520,37'
              : 'Без комиссии: зачисляется вся сумма'
          }
        >
          <Input
            id="amount"
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            value={amount}
            readOnly={fixedAmount !== null}
            onChange={(event) => setAmount(event.target.value)}
          />
        </FormItem>
        <FormItem
          top="Эл. почта для чека"
          htmlFor="email"
          status={email !== '' && !emailOk ? 'error' : 'default'}
          bottom={email !== '' && !emailOk ? 'Проверьте адрес почты' : 'Пришлём чек и подтверждение оплаты'}
        >
          <Input
            id="email"
            name="email"
            type="email"
            inputMode="email"
            autoComplete="email"
            placeholder="ivanov@example.ru"
            value={email}
            onChange={(event) => setEmail(event.target.value)}
          />
        </FormItem>
        <ProblemNote problem={problem} />
        <FormItem>
          <Button type="submit" size="l" stretched disabled={!parsed || !emailOk || busy} loading={busy}>
            Оплатить
          </Button>
        </FormItem>
      </form>
    </Group>
  );
}
