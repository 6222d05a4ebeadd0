// Where the mini app keeps what the customer chose to remember, on the customer's side only: VK's
// own storage (VKWebAppStorageGet/Set, per VK user) inside VK, the browser's localStorage in the
// Facebook tab and in a plain browser. Nothing here is stored by the service. Every value read
// back is only text: its reader decides whether it is one it wrote.
import bridge from '@vkontakte/vk-bridge';

const LOCAL_PREFIX = 'energosbyt.';
const BRIDGE_TIMEOUT_MS = 1500;

export function inVk(launch) {
  return launch?.platform === 'vk' && bridge.isEmbedded();
}

// The bridge answers only inside VK; never wait on it longer than a moment.
export function bridgeCall(method, params, timeoutMs = BRIDGE_TIMEOUT_MS) {
  return Promise.race([
    bridge.send(method, params),
    new Promise((_, reject) => setTimeout(() => reject(new Error('no answer')), timeoutMs)),
  ]);
}

// `name` is a VK storage key: latin letters, digits, '_' and '-' only; `local` the same value's
// name in localStorage (under the app's prefix) when it differs.
export async function readValue(launch, name, local = name) {
  try {
    if (inVk(launch)) {
      const answer = await bridgeCall('VKWebAppStorageGet', { keys: [name] });
      const found = (answer?.keys ?? []).find((entry) => entry?.key === name);
      return typeof found?.value === 'string' ? found.value : null;
    }
    return window.localStorage.getItem(LOCAL_PREFIX + local);
  } catch {
    return null;
  }
}

// VK's storage has no delete: an empty value is how a key is forgotten there.
export async function writeValue(launch, name, value, local = name) {
  try {
    if (inVk(launch)) {
      await bridgeCall('VKWebAppStorageSet', { key: name, value });
    } else if (value === '') {
      window.localStorage.removeItem(LOCAL_PREFIX + local);
    } else {
      window.localStorage.setItem(LOCAL_PREFIX + local, value);
    }
  } catch {
    // Without storage the customer types it again next time.
  }
}
