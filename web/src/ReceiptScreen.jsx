// A payment's fiscal receipt as a printable page (GET /payments/{id}/receipt: every requisite the
// bank's RECEIPT notification gave, the FNS QR code), and a copy sent again to the email the
// payment was made with (POST, at most three a day). Printing leaves the buttons out.
import { useEffect, useState } from 'react';
import { Button, ButtonGroup, Div, Group, Header, SimpleCell, Spinner, Text, VisuallyHidden } from '@vkontakte/vkui';
import { Problem } from './api.js';
import { formatRub, isZero } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';
import { useFocusOnShow } from './AccountScreen.jsx';
import './receipt-print.css';

// An instant as Moscow's wall clock: DD.MM.YYYY HH:MM.
function moscowTime(iso) {
  const at = new Date(Date.parse(iso) + 3 * 3600 * 1000).toISOString();
  return `${at.slice(8, 10)}.${at.slice(5, 7)}.${at.slice(0, 4)} ${at.slice(11, 16)}`;
}

function Line({ label, children, testId }) {
  return (
    <SimpleCell multiline subtitle={label} data-testid={testId}>
      {children}
    </SimpleCell>
  );
}

export function ReceiptScreen({ api, paymentId }) {
  const [receipt, setReceipt] = useState(null);
  const [problem, setProblem] = useState(null);
  const [sending, setSending] = useState(false);
  const [sent, setSent] = useState('');
  const heading = useFocusOnShow(Boolean(receipt));

  useEffect(() => {
    let current = true;
    api
      .receipt(paymentId)
      .then((found) => current && setReceipt(found))
      .catch((error) => current && setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось открыть чек.' })));
    return () => {
      current = false;
    };
  }, [api, paymentId]);

  async function sendCopy() {
    setSending(true);
    setProblem(null);
    setSent('');
    try {
      await api.sendReceipt(paymentId);
      setSent('Чек отправлен на почту, указанную при оплате');
    } catch (error) {
      setProblem(error instanceof Problem ? error : new Problem(0, { title: 'Не удалось отправить чек.' }));
    } finally {
      setSending(false);
    }
  }

  const status = (
    <VisuallyHidden role="status" data-testid="receipt-status">
      {sent}
    </VisuallyHidden>
  );
  if (!receipt) {
    return (
      <Group>
        {status}
        <ProblemNote problem={problem} />
        {!problem && (
          <Div>
            <Spinner size="m" aria-label="Загрузка чека" />
          </Div>
        )}
        <Div className="receipt-actions">
          <Button size="l" mode="tertiary" stretched href="#/payments">
            К платежам
          </Button>
        </Div>
      </Group>
    );
  }
  return (
    <>
      {status}
      <Group
        className="receipt"
        data-testid="receipt"
        header={
          <Header multiline tabIndex={-1} getRootRef={heading}>
            {receipt.document} · {receipt.sign}
          </Header>
        }
      >
        <Line label="Продавец">
          {receipt.sellerName}, ИНН {receipt.sellerInn}
        </Line>
        <Line label="Дата и время">{moscowTime(receipt.issuedAt)}</Line>
        {receipt.items.map((item, index) => (
          <Line key={index} label={`${item.paymentMethod} · ${item.paymentObject} · НДС ${item.vatRate}`}>
            {item.name}: {item.quantity} × {formatRub(item.price)} = {formatRub(item.amount)}
          </Line>
        ))}
        <Line label="Итого" testId="receipt-total">
          {formatRub(receipt.total)}
        </Line>
        <Line label="Безналичными">{formatRub(receipt.paidElectronically)}</Line>
        {receipt.vat.map((vat) => (
          <Line key={vat.rate} label={`В т. ч. НДС ${vat.rate}`}>
            {formatRub(vat.sum)}
          </Line>
        ))}
        {!isZero(receipt.refunded) && (
          <Line label="Возвращено" testId="receipt-refunded">
            {formatRub(receipt.refunded)}
          </Line>
        )}
        <Line label="Система налогообложения">{receipt.taxation}</Line>
        <Line label="Смена № / чек №">
          {receipt.shiftNumber} / {receipt.numberInShift}
        </Line>
        <Line label="ФН" testId="receipt-fn">
          {receipt.fnNumber}
        </Line>
        <Line label="ФД" testId="receipt-fd">
          {receipt.fdNumber}
        </Line>
        <Line label="ФПД">{receipt.fiscalSign}</Line>
        <Line label="РН ККТ">{receipt.kktRegistrationNumber}</Line>
        <Line label="ОФД">{receipt.ofd}</Line>
        <Line label="Место расчётов">{receipt.settlementPlace}</Line>
        <Line label="Эл. адрес отправителя">{receipt.senderEmail}</Line>
        <Line label="Лицевой счёт">{receipt.account}</Line>
        <Div>
          <img
            src={receipt.qrPng}
            alt={`QR-код чека для проверки на сайте ФНС: ${receipt.qrText}`}
            width={180}
            height={180}
            data-testid="receipt-qr"
            style={{ imageRendering: 'pixelated', background: '#fff' }}
          />
        </Div>
      </Group>
      <Group className="receipt-actions">
        <ProblemNote problem={problem} />
        {sent && (
          <Div>
            <Text data-testid="receipt-sent">{sent}</Text>
          </Div>
        )}
        <Div>
          <ButtonGroup mode="vertical" gap="m" stretched>
            <Button size="l" stretched onClick={() => window.print()}>
              Распечатать
            </Button>
            {receipt.canSendCopy && (
              <Button size="l" mode="secondary" stretched loading={sending} disabled={sending} onClick={sendCopy}>
                Отправить чек на почту ещё раз
              </Button>
            )}
            <Button size="l" mode="tertiary" stretched href="#/payments">
              К платежам
            </Button>
          </ButtonGroup>
        </Div>
      </Group>
    </>
  );
}
