// Money arrives as decimal strings with two places ("-1520.37"); it is only formatted here,
// never computed with floating point.

export function formatRub(amount) {
  const text = String(amount ?? '0.00').replace(/^[+-]/, '');
  const [whole, fraction = '00'] = text.split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${grouped},${fraction.padEnd(2, '0').slice(0, 2)}\u00a0₽`;
}

export function isDebt(balance) {
  return String(balance).startsWith('-') && !/^-0(\.0+)?$/.test(String(balance));
}

export function isZero(amount) {
  return /^[+-]?0+(\.0+)?$/.test(String(amount));
}

// What the customer typed ("1 520,37") as the API's decimal string, or null when it is not an amount.
export function parseAmount(typed) {
  const text = String(typed).replace(/[\s\u00a0₽]/g, '').replace(',', '.');
  if (!/^\d{1,9}(\.\d{1,2})?$/.test(text)) return null;
  const [whole, fraction = ''] = text.split('.');
  const normalized = `${String(Number(whole))}.${fraction.padEnd(2, '0')}`;
  return /^0\.00$/.test(normalized) ? null : normalized;
}
