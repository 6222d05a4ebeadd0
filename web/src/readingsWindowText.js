// What the account screen says about a meter whose readings cannot be handed in here now: the
// days its window takes and when it opens next, or why this meter never takes them from customers
// (the look-up's `neverBecause`). Dates are the look-up's, on the Moscow calendar.
import { daysBetween, moscowToday } from './clock.js';

export function formatDate(iso) {
  if (!iso) return '';
  const [year, month, day] = iso.split('-');
  return `${day}.${month}.${year}`;
}

function inDays(days) {
  if (days <= 0) return '';
  if (days === 1) return ' (завтра)';
  const mod10 = days % 10;
  const mod100 = days % 100;
  let word = 'дней';
  if (mod10 === 1 && mod100 !== 11) word = 'день';
  else if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) word = 'дня';
  return ` (через ${days} ${word})`;
}

export const NEVER_TEXT = {
  automaticMetering:
    'Показания этого счётчика передаются автоматически, по системе учёта: вводить их не нужно, начисление придёт по ним само.',
  faulty:
    'Счётчик числится неисправным: показания по нему не принимаются, начисление идёт по нормативу. Чтобы заменить или поверить счётчик, обратитесь в Мосэнергосбыт.',
};

// The sentence for a meter whose window is not open; null when it is open.
export function closedWindowText(window, today = moscowToday()) {
  if (!window || window.open) return null;
  if (window.neverBecause) {
    return NEVER_TEXT[window.neverBecause] ?? 'Показания этого счётчика здесь не принимаются.';
  }
  const fromDay = Number(window.from.slice(8, 10));
  const toDay = Number(window.to.slice(8, 10));
  return (
    `Показания принимаются с ${fromDay} по ${toDay} число. ` +
    `Следующий приём: с ${formatDate(window.from)} по ${formatDate(window.to)}${inDays(daysBetween(today, window.from))}.`
  );
}
