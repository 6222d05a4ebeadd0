// «Мои платежи»: the caller's own payments of the last 24 months from GET /payments, newest first,
// a page at a time («Показать ещё» follows the answer's cursor). A partial refund shows the sum
// given back.
import { useEffect, useState } from 'react';
import { Button, Div, Group, Header, Placeholder, SimpleCell, Spinner } from '@vkontakte/vkui';
import { Problem } from './api.js';
import { formatRub, isZero } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';
import { useFocusOnShow } from './AccountScreen.jsx';

// Payments the bank has issued a sale receipt for.
const WITH_RECEIPT = new Set(['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED']);

const STATUS_TEXT = {
  NEW: 'Ожидает оплаты',
  AUTHORIZED: 'Ожидает оплаты',
  PAID: 'Оплачен',
  FAILED: 'Не прошёл',
  PARTIALLY_REFUNDED: 'Оплачен, часть возвращена',
  REFUNDED: 'Возвращён',
  NEEDS_REVIEW: 'На проверке',
};

// The Moscow calendar day of an instant, as DD.MM.YYYY.
export function moscowDate(iso) {
  const at = new Date(Date.parse(iso) + 3 * 3600 * 1000).toISOString();
  return `${at.slice(8, 10)}.${at.slice(5, 7)}.${at.slice(0, 4)}`;
}

export function PaymentsScreen({ api }) {
  const [payments, setPayments] = useState([]);
  const [next, setNext] = useState(null);
  const [loading, setLoading] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const [problem, setProblem] = useState(null);
  const heading = useFocusOnShow(true);

  async function load(cursor) {
    setLoading(true);
    setProblem(null);
    try {
      const page = await api.payments(cursor);
      setPayments((shown) => (cursor ? [...shown, ...page.payments] : page.payments));
      setNext(page.nextCursor ?? null);
      setLoaded(true);
    } catch (error) {
      setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось загрузить платежи.' }));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    load(null);
  }, [api]);

  return (
    <>
      <Group
        header={
          <Header multiline tabIndex={-1} getRootRef={heading}>
            Мои платежи
          </Header>
        }
      >
        <ProblemNote problem={problem} />
        {loaded && payments.length === 0 && (
          <Placeholder title="Платежей пока нет">Здесь появятся платежи за последние два года.</Placeholder>
        )}
        {payments.map((payment) => (
          <SimpleCell
            key={payment.paymentId}
            multiline
            data-testid="payment-line"
            data-status={payment.status}
            subtitle={`${STATUS_TEXT[payment.status] ?? payment.status} · лицевой счёт ${payment.account} · ${moscowDate(payment.createdAt)}`}
            extraSubtitle={isZero(payment.refunded) ? undefined : `Возвращено ${formatRub(payment.refunded)}`}
            href={WITH_RECEIPT.has(payment.status) ? `#/receipt?paymentId=${encodeURIComponent(payment.paymentId)}` : undefined}
          >
            {formatRub(payment.amount)}
          </SimpleCell>
        ))}
        {loading && (
          <Div>
            <Spinner size="m" aria-label="Загрузка" />
          </Div>
        )}
        {next && !loading && (
          <Div>
            <Button size="l" mode="secondary" stretched onClick={() => load(next)}>
              Показать ещё
            </Button>
          </Div>
        )}
      </Group>
      <Div>
        <Button size="l" mode="tertiary" stretched href="#/">
          К оплате
        </Button>
      </Div>
    </>
  );
}

// The way to the list from the start screen.
export function PaymentsLink() {
  return (
    <Div>
      <Button size="l" mode="tertiary" stretched href="#/payments">
        Мои платежи
      </Button>
    </Div>
  );
}
