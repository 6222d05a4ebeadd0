import { useEffect, useMemo, useState } from 'react';
import {
  AdaptivityProvider,
  AppRoot,
  ConfigProvider,
  Group,
  Panel,
  PanelHeader,
  Placeholder,
  SplitCol,
  SplitLayout,
  View,
} from '@vkontakte/vkui';
import { createApi } from './api.js';
import { AccountScreen } from './AccountScreen.jsx';
import { PaymentStatusScreen } from './PaymentStatusScreen.jsx';
import { PaymentsScreen } from './PaymentsScreen.jsx';
import { ReceiptScreen } from './ReceiptScreen.jsx';
import { useHostLook, vkuiPlatform } from './hostLook.js';

function useHashRoute() {
  const read = () => {
    const hash = window.location.hash.replace(/^#/, '');
    const [path, query = ''] = hash.split('?');
    return { path: path || '/', params: new URLSearchParams(query) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onHash = () => setRoute(read());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

export function App({ launch }) {
  const { scheme, insets } = useHostLook();
  const route = useHashRoute();
  const api = useMemo(() => (launch ? createApi(launch) : null), [launch]);

  let screen;
  if (route.path === '/return') {
    screen = <PaymentStatusScreen api={api} launch={launch} paymentId={route.params.get('paymentId')} />;
  } else if (route.path === '/receipt' && api) {
    screen = <ReceiptScreen api={api} paymentId={route.params.get('paymentId')} />;
  } else if (route.path === '/payments' && api) {
    screen = <PaymentsScreen api={api} />;
  } else if (!api) {
    screen = (
      <Group>
        <Placeholder title="Откройте приложение во ВКонтакте">
          Оплата электроэнергии работает в мини-приложении ВКонтакте и на вкладке «Оплата электроэнергии»
          страницы Мосэнергосбыта в Facebook.
        </Placeholder>
      </Group>
    );
  } else {
    screen = <AccountScreen api={api} launch={launch} />;
  }

  return (
    <ConfigProvider colorScheme={scheme} platform={vkuiPlatform(launch)}>
      <AdaptivityProvider>
        <AppRoot safeAreaInsets={insets}>
          <SplitLayout>
            <SplitCol autoSpaced>
              <View activePanel="main">
                <Panel id="main">
                  <PanelHeader typographyProps={{ Component: 'h1' }}>Оплата электроэнергии</PanelHeader>
                  {screen}
                </Panel>
              </View>
            </SplitCol>
          </SplitLayout>
        </AppRoot>
      </AdaptivityProvider>
    </ConfigProvider>
  );
}
