// The accounts a customer opened on earlier visits, kept on the customer's side (deviceStorage):
// at most 5, the last opened first, each with an optional name of their own («Квартира», «Дача»).
// One value holds the list; a value that is not one we wrote, or an entry in it that is not an
// account as we write it, is ignored rather than trusted.
import { readValue, writeValue } from './deviceStorage.js';
import { maskAccount } from './accountMask.js';

export const MAX_SAVED = 5;
export const NAME_MAX = 24;
const KEY = 'accounts';
const PREFIX = 'sa1:';
const DIGITS = /^\d{10}$/;
// A name as a customer gives it: letters, digits, spaces and light punctuation.
const NAME = /^[0-9A-Za-zА-Яа-яЁё .,№()«»"'-]*$/;

export function accountNameProblem(typed) {
  const text = String(typed).trim();
  if (text.length > NAME_MAX) return `Не длиннее ${NAME_MAX} символов`;
  if (!NAME.test(text)) return 'Только буквы, цифры, пробелы и знаки препинания';
  return null;
}

// The stored text as the list it says, or an empty list.
export function decodeSaved(value) {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return [];
  let entries;
  try {
    entries = JSON.parse(value.slice(PREFIX.length));
  } catch {
    return [];
  }
  if (!Array.isArray(entries)) return [];
  const seen = new Set();
  const saved = [];
  for (const entry of entries) {
    if (entry === null || typeof entry !== 'object') continue;
    const { a, n = '', t } = entry;
    if (typeof a !== 'string' || !DIGITS.test(a) || seen.has(a)) continue;
    if (typeof n !== 'string' || accountNameProblem(n) !== null) continue;
    if (!Number.isSafeInteger(t) || t < 0) continue;
    seen.add(a);
    saved.push({ account: maskAccount(a), name: n.trim(), openedAt: t });
  }
  return saved.sort((x, y) => y.openedAt - x.openedAt).slice(0, MAX_SAVED);
}

function encode(saved) {
  const entries = saved.slice(0, MAX_SAVED).map((s) => {
    const entry = { a: s.account.replace(/\D/g, ''), t: s.openedAt };
    if (s.name) entry.n = s.name;
    return entry;
  });
  return PREFIX + JSON.stringify(entries);
}

export async function recallAccounts(launch) {
  return decodeSaved(await readValue(launch, KEY, 'saved-accounts'));
}

async function update(launch, change) {
  const saved = change(await recallAccounts(launch));
  await writeValue(launch, KEY, saved.length === 0 ? '' : encode(saved), 'saved-accounts');
  return saved;
}

// Opened now: to the front of the list with the name it had; the oldest drops off the end.
export function rememberAccountOpened(launch, account, now = Date.now()) {
  const number = maskAccount(account);
  if (!DIGITS.test(number.replace(/\D/g, ''))) return recallAccounts(launch);
  return update(launch, (saved) => {
    const before = saved.find((s) => s.account === number);
    const rest = saved.filter((s) => s.account !== number);
    return [{ account: number, name: before?.name ?? '', openedAt: now }, ...rest].slice(0, MAX_SAVED);
  });
}

export function nameAccount(launch, account, name) {
  const text = String(name).trim();
  if (accountNameProblem(text) !== null) return recallAccounts(launch);
  return update(launch, (saved) => saved.map((s) => (s.account === account ? { ...s, name: text } : s)));
}

export function forgetAccount(launch, account) {
  return update(launch, (saved) => saved.filter((s) => s.account !== account));
}
