// How the page matches the platform it runs in: VKUI's platform from VK's `vk_platform` launch
// parameter (desktop VK → vkcom, VK's iOS apps → ios, Android and mobile web → android; the
// Facebook tab → vkcom), the colour scheme VK reports (else the system's), and the safe-area insets
// VK's clients report around notches and system bars.
import { useEffect, useState } from 'react';
import bridge from '@vkontakte/vk-bridge';

const PLATFORMS = {
  desktop_web: 'vkcom',
  desktop_web_messenger: 'vkcom',
  desktop_app_messenger: 'vkcom',
  mobile_iphone: 'ios',
  mobile_iphone_messenger: 'ios',
  mobile_ipad: 'ios',
  mobile_android: 'android',
  mobile_android_messenger: 'android',
  mobile_web: 'android',
  // Older clients' values.
  android: 'android',
  iphone: 'ios',
};

// VKUI's platform for the launch; undefined lets VKUI guess from the browser.
export function vkuiPlatform(launch) {
  if (launch?.platform === 'facebook') return 'vkcom';
  return PLATFORMS[launch?.vkPlatform] ?? undefined;
}

function insetsOf(data) {
  const insets = data?.insets;
  if (!insets || typeof insets !== 'object') return null;
  const side = (value) => (Number.isFinite(value) && value >= 0 && value < 200 ? value : 0);
  return { top: side(insets.top), right: side(insets.right), bottom: side(insets.bottom), left: side(insets.left) };
}

function appearanceOf(data) {
  const value = data?.appearance;
  return value === 'dark' || value === 'light' ? value : null;
}

// VK's client reports its config right after VKWebAppInit, before the page has rendered: what it
// said is kept from the moment this module loads, and the page starts from it.
const reported = { appearance: null, insets: undefined };
const listeners = new Set();

bridge.subscribe(({ detail }) => {
  const type = detail?.type;
  if (type !== 'VKWebAppUpdateConfig' && type !== 'VKWebAppGetConfigResult' && type !== 'VKWebAppUpdateInsets') return;
  const appearance = type === 'VKWebAppUpdateInsets' ? null : appearanceOf(detail.data);
  const insets = insetsOf(detail.data);
  if (appearance) reported.appearance = appearance;
  if (insets) reported.insets = insets;
  if (appearance || insets) listeners.forEach((listener) => listener({ ...reported }));
});

// The colour scheme and the safe-area insets, following VK's config as it changes.
export function useHostLook() {
  const media = window.matchMedia?.('(prefers-color-scheme: dark)');
  const [systemScheme, setSystemScheme] = useState(media?.matches ? 'dark' : 'light');
  const [vk, setVk] = useState(() => ({ ...reported }));
  useEffect(() => {
    const onMedia = (event) => setSystemScheme(event.matches ? 'dark' : 'light');
    media?.addEventListener?.('change', onMedia);
    listeners.add(setVk);
    // Anything reported between the first render and now.
    setVk({ ...reported });
    return () => {
      media?.removeEventListener?.('change', onMedia);
      listeners.delete(setVk);
    };
  }, []);
  // VK's own appearance wins over the system's when the client reports it.
  return { scheme: vk.appearance ?? systemScheme, insets: vk.insets };
}
