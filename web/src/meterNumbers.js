// The number printed on each meter, typed once and remembered, so the customer does not read it
// off the case every month: in VK's own storage for the user inside VK, in the browser's storage in
// the Facebook tab (and in a browser outside VK). One key per account and meter reference. A value
// read back that is not one we wrote is ignored.
import { readValue, writeValue } from './deviceStorage.js';

const PREFIX = 'mn1:';
// What a printed number may look like as typed: letters, digits, spaces, dashes, dots, slashes, №.
const NUMBER = /^[0-9A-Za-zА-Яа-яЁё№ ./_-]{1,40}$/;

// Letters or digits, at most 40 characters: what the service can take as a meter number.
export function meterNumberProblem(typed) {
  const text = String(typed).trim();
  if (!/[0-9A-Za-zА-Яа-яЁё]/.test(text)) return 'Введите номер счётчика';
  if (!NUMBER.test(text)) return 'Номер вводится буквами и цифрами, как на корпусе счётчика';
  return null;
}

function key(account, ref) {
  return `meter_${String(account).replace(/\D/g, '')}_${Number(ref)}`;
}

function decode(value) {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return null;
  const number = value.slice(PREFIX.length);
  return NUMBER.test(number) && meterNumberProblem(number) === null ? number : null;
}

export async function recallMeterNumber(launch, account, ref) {
  const name = key(account, ref);
  return decode(await readValue(launch, name, `meter-number.${name}`));
}

function store(launch, account, ref, value) {
  const name = key(account, ref);
  return writeValue(launch, name, value, `meter-number.${name}`);
}

export function rememberMeterNumber(launch, account, ref, number) {
  const text = String(number).trim();
  return meterNumberProblem(text) === null ? store(launch, account, ref, PREFIX + text) : Promise.resolve();
}

// VK's storage has no delete: an empty value reads back as nothing of ours.
export function forgetMeterNumber(launch, account, ref) {
  return store(launch, account, ref, '');
}
