// The service's HTTP API. Every refusal is application/problem+json with a Russian `title` fit to
// show as it is; anything else (no network, a proxy's HTML page) becomes a problem with a title
// of our own, so the page never shows a raw error.

export class Problem extends Error {
  constructor(status, body) {
    super(body.title);
    this.status = status;
    this.type = body.type ?? '';
    this.title = body.title;
    this.detail = body.detail ?? null;
    this.body = body;
  }

  is(slug) {
    return this.type.endsWith(`/problems/${slug}`);
  }
}

const OFFLINE = {
  title: 'Нет связи с сервером',
  detail: 'Проверьте подключение к интернету и попробуйте ещё раз.',
};

function fallbackTitle(status) {
  if (status === 401) return 'Не удалось подтвердить вход. Откройте приложение заново.';
  if (status === 429) return 'Слишком много запросов. Попробуйте через минуту.';
  if (status >= 500) return 'Сервис временно недоступен. Попробуйте позже.';
  return 'Не удалось выполнить запрос.';
}

export function createApi(launch) {
  async function call(method, path, { body, headers } = {}) {
    let response;
    try {
      response = await fetch(`${launch.apiUrl}${path}`, {
        method,
        headers: {
          Authorization: launch.authorization,
          Accept: 'application/json, application/problem+json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        cache: 'no-store',
      });
    } catch {
      throw new Problem(0, OFFLINE);
    }
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    if (!response.ok) {
      const title = json && typeof json.title === 'string' ? json.title : fallbackTitle(response.status);
      throw new Problem(response.status, { ...(json ?? {}), title });
    }
    if (json === null) throw new Problem(response.status, { title: fallbackTitle(500) });
    return json;
  }

  return {
    lookUp: (account) => call('GET', `/accounts/${encodeURIComponent(account)}`),
    submitReadings: (account, reading) =>
      call('POST', `/accounts/${encodeURIComponent(account)}/readings`, { body: reading }),
    pay: (payment, idempotencyKey) =>
      call('POST', '/payments', { body: payment, headers: { 'Idempotency-Key': idempotencyKey } }),
    payment: (paymentId) => call('GET', `/payments/${encodeURIComponent(paymentId)}`),
    receipt: (paymentId) => call('GET', `/payments/${encodeURIComponent(paymentId)}/receipt`),
    sendReceipt: (paymentId) => call('POST', `/payments/${encodeURIComponent(paymentId)}/receipt`),
    reminder: (account) => call('GET', `/accounts/${encodeURIComponent(account)}/reminder`),
    turnReminderOn: (account) => call('PUT', `/accounts/${encodeURIComponent(account)}/reminder`),
    turnReminderOff: (account) => call('DELETE', `/accounts/${encodeURIComponent(account)}/reminder`),
    payments: (cursor) => call('GET', cursor ? `/payments?cursor=${encodeURIComponent(cursor)}` : '/payments'),
  };
}

// One key per payment intent: the same body again (a retry after a timeout) reuses the key, so
// the service answers the first payment instead of creating a second one.
export function intentKeys() {
  let last = null;
  return (payment) => {
    const body = JSON.stringify(payment);
    if (last && last.body === body) return last.key;
    last = { body, key: newUuid() };
    return last.key;
  };
}

function newUuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
