import { useEffect, useState } from 'react';
import { Button, Div, Group, Placeholder, Spinner } from '@vkontakte/vkui';
import { Problem } from './api.js';
import { formatRub } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';

const POLL_EVERY_MS = 3000;
// The acquirer's notification usually lands within seconds; after this the page stops asking and
// says the payment is still being processed.
const POLL_FOR_MS = 120000;

// NEEDS_REVIEW is settled by an operator, not by the next answer: nothing to wait for here.
const SETTLED = new Set(['PAID', 'FAILED', 'PARTIALLY_REFUNDED', 'REFUNDED', 'NEEDS_REVIEW']);

function backToAccount() {
  window.location.hash = '#/';
}

export function PaymentStatusScreen({ api, launch, paymentId }) {
  const [payment, setPayment] = useState(null);
  const [problem, setProblem] = useState(null);
  const [gaveUp, setGaveUp] = useState(false);

  useEffect(() => {
    if (!api || !paymentId) return undefined;
    let stopped = false;
    let timer = null;
    const started = Date.now();
    async function poll() {
      try {
        const found = await api.payment(paymentId);
        if (stopped) return;
        setPayment(found);
        setProblem(null);
        if (SETTLED.has(found.status)) return;
      } catch (error) {
        if (stopped) return;
        const refusal = error instanceof Problem ? error : new Problem(0, { title: 'Не удалось узнать статус платежа.' });
        setProblem(refusal);
        // A payment that is not there will not appear; anything else may pass.
        if (refusal.status === 404 || refusal.status === 401 || refusal.status === 400) return;
      }
      if (Date.now() - started > POLL_FOR_MS) {
        setGaveUp(true);
        return;
      }
      timer = setTimeout(poll, POLL_EVERY_MS);
    }
    poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, paymentId]);

  if (!paymentId) {
    return <Outcome title="Платёж не найден">В адресе страницы нет номера платежа.</Outcome>;
  }
  if (!api) {
    return (
      <Outcome title="Оплата завершена на сайте банка" back={false}>
        Вернитесь на вкладку «Оплата электроэнергии» в Facebook или в мини-приложение ВКонтакте: там показан
        статус платежа.
      </Outcome>
    );
  }
  if (problem && !payment) {
    return (
      <Group>
        <ProblemNote problem={problem} />
        <Div>
          <Button size="l" stretched onClick={backToAccount}>
            К лицевому счёту
          </Button>
        </Div>
      </Group>
    );
  }
  if (!payment) {
    return (
      <Outcome title="Проверяем платёж…" icon={<Spinner size="l" />} back={false}>
        Это займёт несколько секунд.
      </Outcome>
    );
  }
  switch (payment.status) {
    case 'PAID':
      return (
        <Outcome title="Оплата прошла" status="paid">
          {formatRub(payment.amount)} зачислены на лицевой счёт {payment.account}. Чек придёт на указанную почту.
        </Outcome>
      );
    case 'FAILED':
      return (
        <Outcome title="Оплата не прошла" status="failed">
          {payment.decline ? `${payment.decline.message} ` : ''}
          {payment.method === 'sbp'
            ? 'Деньги не списаны. Попробуйте ещё раз через СБП или оплатите картой.'
            : 'Деньги не списаны. Попробуйте ещё раз или оплатите другой картой.'}
        </Outcome>
      );
    case 'NEEDS_REVIEW':
      return (
        <Outcome title="Платёж проверяется" status="review">
          Платёж проверяется: мы напишем на вашу почту.
        </Outcome>
      );
    case 'REFUNDED':
    case 'PARTIALLY_REFUNDED':
      return (
        <Outcome title="Платёж возвращён" status="refunded">
          {formatRub(payment.amount)}: деньги возвращены {payment.method === 'sbp' ? 'на ваш счёт' : 'на карту'}.
        </Outcome>
      );
    default:
      return (
        <Outcome
          title="Платёж обрабатывается"
          status="processing"
          icon={gaveUp ? undefined : <Spinner size="l" />}
        >
          {gaveUp
            ? 'Банк ещё не подтвердил оплату. Статус обновится в течение часа; письмо придёт на почту, как только платёж пройдёт.'
            : `Ждём подтверждения банка: ${formatRub(payment.amount)}.`}
          {problem ? ` ${problem.title}` : ''}
        </Outcome>
      );
  }
}

function Outcome({ title, status, icon, children, back = true }) {
  return (
    <Group>
      <Placeholder.Container data-payment-status={status}>
        {icon && <Placeholder.Icon>{icon}</Placeholder.Icon>}
        {/* The same live region in every state, so each change («Оплата прошла», «Оплата не прошла»)
            is read out when it comes, without taking the focus. */}
        <div role="status" aria-atomic="true">
          <Placeholder.Title Component="h2">{title}</Placeholder.Title>
          <Placeholder.Description>{children}</Placeholder.Description>
        </div>
        {back && (
          <Placeholder.Actions>
            <Button size="l" onClick={backToAccount}>
              К лицевому счёту
            </Button>
          </Placeholder.Actions>
        )}
      </Placeholder.Container>
    </Group>
  );
}
