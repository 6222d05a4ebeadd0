import { useEffect, useRef, useState } from 'react';
import { Button, Div, Group, Header, Link, Placeholder, Spinner, Text } from '@vkontakte/vkui';
import { Problem } from './api.js';
import { formatRub } from './money.js';
import { isExpired, qrImageSource } from './sbp.js';

// Often at first, while the customer is at the screen with the phone in hand; then less often
// until the payment's time is over.
const POLL_FAST_MS = 3000;
const POLL_SLOW_MS = 15000;
const FAST_FOR_MS = 10 * 60 * 1000;

const ENDED = new Set(['PAID', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'NEEDS_REVIEW']);

// What the page says in each state: one live region, so every change is read out.
function outcomeOf(payment, expired) {
  switch (payment?.status) {
    case 'PAID':
      return {
        state: 'paid',
        title: 'Оплата прошла',
        text: `${formatRub(payment.amount)} зачислены на лицевой счёт ${payment.account}. Чек придёт на указанную почту.`,
      };
    case 'FAILED':
      return expired
        ? { state: 'expired', title: 'Время на оплату истекло', text: 'QR-код больше не действует, деньги не списаны. Начните оплату заново.' }
        : { state: 'declined', title: 'Оплата отклонена', text: 'Банк не провёл платёж, деньги не списаны. Попробуйте ещё раз или оплатите картой.' };
    case 'NEEDS_REVIEW':
      return { state: 'review', title: 'Платёж проверяется', text: 'Платёж проверяется: мы напишем на вашу почту.' };
    case 'REFUNDED':
    case 'PARTIALLY_REFUNDED':
      return { state: 'refunded', title: 'Платёж возвращён', text: 'Деньги возвращены на ваш счёт.' };
    default:
      return expired
        ? { state: 'expired', title: 'Время на оплату истекло', text: 'QR-код больше не действует, деньги не списаны. Начните оплату заново.' }
        : null;
  }
}

// The account again with its balance after the payment, the way the bank's form returns: a fresh
// page, which looks the remembered account up again.
function backToAccount() {
  window.location.reload();
}

// A computer's СБП screen: the QR of the link with the amount, waiting until the payment is paid,
// declined or its time is over. `onBack` leaves it while waiting, to pay another way.
export function SbpQrScreen({ api, created, onBack }) {
  const [payment, setPayment] = useState(null);
  const [problem, setProblem] = useState(null);
  const heading = useRef(null);

  useEffect(() => {
    heading.current?.focus();
  }, []);

  useEffect(() => {
    let stopped = false;
    let timer = null;
    const started = Date.now();
    async function poll() {
      try {
        const found = await api.payment(created.paymentId);
        if (stopped) return;
        setPayment(found);
        setProblem(null);
        if (ENDED.has(found.status) || isExpired(found)) return;
      } catch (error) {
        if (stopped) return;
        const refusal = error instanceof Problem ? error : new Problem(0, { title: 'Не удалось узнать статус платежа.' });
        setProblem(refusal);
        if (refusal.status === 404 || refusal.status === 401 || refusal.status === 400) return;
      }
      timer = setTimeout(poll, Date.now() - started < FAST_FOR_MS ? POLL_FAST_MS : POLL_SLOW_MS);
    }
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, created.paymentId]);

  const outcome = outcomeOf(payment, isExpired(payment));
  const amount = formatRub(created.amount);
  return (
    <Group
      header={
        <Header multiline>
          <span ref={heading} tabIndex={-1}>
            Оплата через СБП
          </span>
        </Header>
      }
      data-testid="sbp-screen"
      data-sbp-state={outcome?.state ?? 'waiting'}
    >
      {!outcome && (
        <Div>
          <Text>
            Сумма к оплате: <strong>{amount}</strong>, без комиссии
          </Text>
          <Text>Отсканируйте QR-код камерой телефона или в приложении вашего банка и подтвердите оплату.</Text>
          <img
            src={qrImageSource(created.qrSvg)}
            width="256"
            height="256"
            alt={`QR-код для оплаты ${amount} через Систему быстрых платежей`}
            style={{ display: 'block', margin: '16px auto', background: '#fff', maxWidth: '100%', height: 'auto' }}
          />
          <Text>
            Телефон под рукой? <Link href={created.paymentUrl} target="_blank" rel="noopener noreferrer">Открыть ссылку СБП</Link>
          </Text>
        </Div>
      )}
      <Placeholder.Container data-payment-status={outcome?.state}>
        {!outcome && (
          <Placeholder.Icon>
            <Spinner size="m" />
          </Placeholder.Icon>
        )}
        <div role="status" aria-atomic="true">
          <Placeholder.Title Component="h2">{outcome ? outcome.title : 'Ждём оплату'}</Placeholder.Title>
          <Placeholder.Description>
            {outcome ? outcome.text : 'Страница обновится сама, как только банк подтвердит платёж.'}
            {problem && !outcome ? ` ${problem.title}` : ''}
          </Placeholder.Description>
        </div>
        <Placeholder.Actions>
          <Button size="l" mode={outcome ? 'primary' : 'secondary'} onClick={outcome ? backToAccount : onBack}>
            {outcome ? 'К лицевому счёту' : 'Выбрать другой способ'}
          </Button>
        </Placeholder.Actions>
      </Placeholder.Container>
    </Group>
  );
}
