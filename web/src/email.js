// An email address for the receipt: what the page takes as one, whoever gave it (typed, VK's
// VKWebAppGetEmail, or remembered from the last payment on this device), and where it comes from
// when the payment form opens. Only this device remembers it; the service keeps it with the payment.
import { bridgeCall, inVk } from './deviceStorage.js';

const PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LAST_KEY = 'energosbyt.last-email';
const PREFIX = 'em1:';
// VK asks the customer before it tells the address: allow time to answer.
const VK_ASK_TIMEOUT_MS = 60000;

export function isEmail(text) {
  const value = String(text ?? '').trim();
  return value.length <= 254 && PATTERN.test(value);
}

function lastPaymentEmail() {
  try {
    const value = window.localStorage.getItem(LAST_KEY);
    if (typeof value !== 'string' || !value.startsWith(PREFIX)) return null;
    const email = value.slice(PREFIX.length);
    return isEmail(email) ? email : null;
  } catch {
    return null;
  }
}

export function rememberPaymentEmail(email) {
  if (!isEmail(email)) return;
  try {
    window.localStorage.setItem(LAST_KEY, PREFIX + email.trim());
  } catch {
    // Without storage the customer types the address again next time.
  }
}

// VK is asked once per page load: a refusal is not asked again until the next visit.
let vkAnswer = null;

function emailFromVk(launch) {
  if (!inVk(launch)) return Promise.resolve(null);
  vkAnswer ??= bridgeCall('VKWebAppGetEmail', {}, VK_ASK_TIMEOUT_MS)
    .then((answer) => (typeof answer?.email === 'string' && isEmail(answer.email) ? answer.email.trim() : null))
    .catch(() => null);
  return vkAnswer;
}

// VK's address of the user when they allow it, else the one the last payment here went to.
export async function prefillEmail(launch) {
  return (await emailFromVk(launch)) ?? lastPaymentEmail();
}
