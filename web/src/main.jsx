import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import bridge from '@vkontakte/vk-bridge';
import '@vkontakte/vkui/dist/vkui.css';
// After VKUI's own stylesheet: the same theme classes and components, later in the cascade.
import './contrast.css';
import './text-size.css';
import { detectLaunch } from './launch.js';
import { App } from './App.jsx';

const launch = detectLaunch();
if (launch?.platform === 'vk') {
  // Outside VK (a plain browser) the bridge has no host and refuses: nothing depends on it.
  bridge.send('VKWebAppInit').catch(() => {});
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App launch={launch} />
  </StrictMode>,
);
