import { useEffect, useState } from 'react';
import { Button, Checkbox, FormItem, Group, Header, Input, SimpleCell, Text, Div, VisuallyHidden } from '@vkontakte/vkui';
import { Problem } from './api.js';
import { formatRub, isZero } from './money.js';
import { ProblemNote } from './ProblemNote.jsx';
import { PaymentForm, formatDate, useFocusOnShow } from './AccountScreen.jsx';
import { forgetMeterNumber, meterNumberProblem, recallMeterNumber, rememberMeterNumber } from './meterNumbers.js';

// «Оплатить по показаниям»: the number printed on the meter (typed once, then remembered), one
// whole-kWh value per zone, the service recalculates the charge, then the customer pays exactly
// that amount with the submission's id.
export function ReadingsForm({ account, meter, api, launch, onCancel }) {
  const [number, setNumber] = useState('');
  const [numberTouched, setNumberTouched] = useState(false);
  // Correcting this month's readings starts from what was handed in.
  const [values, setValues] = useState(() =>
    Object.fromEntries(meter.zones.map((zone) => [zone, String(meter.submitted?.values?.[zone] ?? '')])),
  );
  const [rollover, setRollover] = useState(false);
  const [askRollover, setAskRollover] = useState(false);
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const [accepted, setAccepted] = useState(null);
  // The form's heading takes the focus from the button that opened it, the answer's heading from
  // the button that sent it: both buttons are gone by then.
  const formHeading = useFocusOnShow(!accepted);
  const acceptedHeading = useFocusOnShow(Boolean(accepted));

  useEffect(() => {
    let current = true;
    recallMeterNumber(launch, account.account, meter.ref).then((remembered) => {
      if (current && remembered) setNumber((typed) => (typed === '' ? remembered : typed));
    });
    return () => {
      current = false;
    };
  }, [launch, account.account, meter.ref]);

  const numberRefusal = meterNumberProblem(number);
  const complete = numberRefusal === null && meter.zones.every((zone) => readingProblem(values[zone]) === null);

  async function submit(event) {
    event.preventDefault();
    if (!complete) return;
    setBusy(true);
    setProblem(null);
    const reading = {
      meterId: number.trim(),
      meterRef: meter.ref,
      values: Object.fromEntries(meter.zones.map((zone) => [zone, Number(values[zone].trim())])),
      confirmRollover: rollover,
    };
    try {
      const answer = await api.submitReadings(account.account, reading);
      await rememberMeterNumber(launch, account.account, meter.ref, reading.meterId);
      setAccepted(answer);
    } catch (error) {
      const refusal = error instanceof Problem ? error : new Problem(0, { title: 'Не удалось передать показания.' });
      if (refusal.is('rollover-not-confirmed')) setAskRollover(true);
      if (refusal.is('meter-number-wrong')) forgetMeterNumber(launch, account.account, meter.ref);
      setProblem(refusal);
    } finally {
      setBusy(false);
    }
  }

  // Present from the start, so the news that the readings were accepted is announced when it comes.
  const status = (
    <VisuallyHidden role="status" data-testid="readings-status">
      {accepted ? `Показания приняты. К оплате по лицевому счёту ${formatRub(accepted.amountToPay)}` : ''}
    </VisuallyHidden>
  );

  if (accepted) {
    return (
      <>
        {status}
        <Group
          header={
            <Header multiline tabIndex={-1} getRootRef={acceptedHeading}>
              Показания приняты
            </Header>
          }
        >
          {meter.zones.map((zone) => (
            <SimpleCell key={zone} multiline subtitle={zoneLabel(meter, zone)}>
              {accepted.consumption?.[zone] ?? 0} кВт·ч
              {accepted.tariffs?.[zone] !== undefined && <> × {formatRub(accepted.tariffs[zone])}</>}
            </SimpleCell>
          ))}
          <SimpleCell multiline subtitle="Начислено по этому счётчику" data-testid="charge">
            {formatRub(accepted.charge)}
          </SimpleCell>
          {accepted.chargedByReadings && accepted.chargedByReadings !== accepted.charge && (
            <SimpleCell multiline subtitle="Начислено по показаниям всех счётчиков" data-testid="charged-total">
              {formatRub(accepted.chargedByReadings)}
            </SimpleCell>
          )}
          <SimpleCell multiline subtitle="К оплате по лицевому счёту" data-testid="amount-to-pay">
            {formatRub(accepted.amountToPay)}
          </SimpleCell>
        </Group>
        {isZero(accepted.amountToPay) ? (
          <Group>
            <Div>
              <Text>Платить ничего не нужно: переплата на счёте покрывает начисление.</Text>
            </Div>
          </Group>
        ) : (
          <PaymentForm
            account={account}
            api={api}
            launch={launch}
            prefilled={accepted.amountToPay}
            readingsId={accepted.readingsId}
            title="Оплата по показаниям"
          />
        )}
        <Div>
          <Button size="l" mode="tertiary" stretched onClick={onCancel}>
            Назад к лицевому счёту
          </Button>
        </Div>
      </>
    );
  }

  const numberWrong = Boolean(numberTouched && numberRefusal);
  return (
    <>
      {status}
      <Group
        header={
          <Header multiline tabIndex={-1} getRootRef={formHeading}>
            Показания: счётчик {meter.number}
          </Header>
        }
      >
        <form onSubmit={submit} noValidate>
          <FormItem
            top="Номер счётчика"
            topMultiline
            htmlFor="meter-number"
            status={numberWrong ? 'error' : 'default'}
            bottom={numberWrong ? numberRefusal : `Номер указан на корпусе счётчика (${meter.number}): введите его полностью`}
            bottomId="meter-number-hint"
          >
            <Input
              id="meter-number"
              name="meter-number"
              autoComplete="off"
              aria-describedby="meter-number-hint"
              aria-invalid={numberWrong}
              value={number}
              onChange={(event) => {
                setNumber(event.target.value);
                setNumberTouched(true);
              }}
            />
          </FormItem>
          {meter.zones.map((zone) => {
            const last = meter.lastReadings?.[zone];
            const typed = values[zone];
            const refusal = typed.trim() === '' ? null : readingProblem(typed);
            const hint = last
              ? `Прошлые показания ${last.value} от ${formatDate(last.date)}. Целые кВт·ч, цифры до запятой`
              : 'Целые кВт·ч, цифры до запятой, как на счётчике';
            return (
              <FormItem
                key={zone}
                top={`${zoneLabel(meter, zone)}, кВт·ч`}
                topMultiline
                htmlFor={`reading-${zone}`}
                status={refusal ? 'error' : 'default'}
                bottom={refusal ?? hint}
                bottomId={`reading-${zone}-hint`}
              >
                <Input
                  id={`reading-${zone}`}
                  name={`reading-${zone}`}
                  inputMode="numeric"
                  autoComplete="off"
                  aria-describedby={`reading-${zone}-hint`}
                  aria-invalid={Boolean(refusal)}
                  value={typed}
                  onChange={(event) => setValues({ ...values, [zone]: event.target.value })}
                />
              </FormItem>
            );
          })}
          {askRollover && (
            <FormItem>
              <Checkbox checked={rollover} onChange={(event) => setRollover(event.target.checked)}>
                Счётчик прошёл через ноль (показания начались заново)
              </Checkbox>
            </FormItem>
          )}
          <ProblemNote problem={problem} />
          <FormItem>
            <Button type="submit" size="l" stretched disabled={!complete || busy} loading={busy}>
              Рассчитать сумму
            </Button>
          </FormItem>
          <FormItem>
            <Button size="l" mode="tertiary" stretched onClick={onCancel}>
              Отмена
            </Button>
          </FormItem>
        </form>
      </Group>
    </>
  );
}

// A reading is whole kWh: the digits before the comma on the meter's display. A comma or a point
// is refused rather than dropped, so «520,3» never becomes 5203.
export function readingProblem(typed) {
  const text = String(typed).trim();
  if (text === '') return 'Введите показание';
  if (/[.,]/.test(text)) return 'Введите целое число кВт·ч — только цифры до запятой, без дробной части';
  if (!/^\d+$/.test(text)) return 'Показание вводится цифрами, как на счётчике';
  if (text.length > 10) return 'Слишком много цифр: проверьте показание';
  return null;
}

function zoneLabel(meter, zone) {
  const name = meter.zoneNames?.[zone];
  return name ? `${zone} (${name})` : zone;
}
