// Who the customer is, as the host platform told the page:
// - VK appends signed launch parameters to the page's URL query;
// - the Facebook tab's HTML (written by the facebook-tab function) carries the verified
//   signed_request in <script type="application/json" id="fb-launch">.
// The credentials go to the API only in the Authorization header, never in a URL.

const VK_LAUNCH_KEY = 'energosbyt.vk-launch';
const BUILT_API_URL = (import.meta.env.VITE_API_URL ?? 'http://127.0.0.1:9000').replace(/\/$/, '');

function facebookLaunch() {
  const block = document.getElementById('fb-launch');
  if (!block) return null;
  try {
    const data = JSON.parse(block.textContent);
    if (typeof data.signedRequest !== 'string' || data.signedRequest === '') return null;
    const apiUrl = typeof data.apiUrl === 'string' ? data.apiUrl.replace(/\/$/, '') : BUILT_API_URL;
    return { platform: 'facebook', authorization: `FB ${data.signedRequest}`, apiUrl };
  } catch {
    return null;
  }
}

function vkLaunch() {
  const query = window.location.search.replace(/^\?/, '');
  const params = new URLSearchParams(query);
  if (params.has('sign') && params.has('vk_user_id')) {
    // Kept for the way back from the bank's form, whose return URL carries no launch parameters.
    try {
      window.sessionStorage.setItem(VK_LAUNCH_KEY, query);
    } catch {
      // Storage can be off in a WebView: the payment status then cannot be checked after the form.
    }
    // Off the address bar, so a copied link or a later navigation does not carry them.
    window.history.replaceState(null, '', window.location.pathname + window.location.hash);
    return { platform: 'vk', authorization: `VK ${query}`, apiUrl: BUILT_API_URL, vkPlatform: params.get('vk_platform') };
  }
  let stored = null;
  try {
    stored = window.sessionStorage.getItem(VK_LAUNCH_KEY);
  } catch {
    stored = null;
  }
  if (stored) {
    return { platform: 'vk', authorization: `VK ${stored}`, apiUrl: BUILT_API_URL, vkPlatform: new URLSearchParams(stored).get('vk_platform') };
  }
  return null;
}

export function detectLaunch() {
  return facebookLaunch() ?? vkLaunch();
}
