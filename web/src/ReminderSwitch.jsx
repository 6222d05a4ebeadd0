// «Напоминать о показаниях»: a verified VK user asks to be reminded through VK's notifications to
// hand in this account's readings (the 15th, and the 25th while none are in), and turns it off
// again. Opt-in twice over: VK asks the user to allow the app's notifications
// (VKWebAppAllowNotifications) before the service stores anything. Shown inside VK only.
import { useEffect, useId, useState } from 'react';
import { Group, SimpleCell, Switch } from '@vkontakte/vkui';
import { bridgeCall, inVk } from './deviceStorage.js';
import { ProblemNote } from './ProblemNote.jsx';

// The user reads VK's permission dialog: give them time.
const ALLOW_TIMEOUT_MS = 60000;

const NOT_ALLOWED = {
  title: 'Разрешите уведомления от приложения, чтобы получать напоминания',
};

export function ReminderSwitch({ account, api, launch }) {
  const vk = inVk(launch);
  const [on, setOn] = useState(null);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState(null);
  const title = useId();
  const hint = useId();

  useEffect(() => {
    if (!vk) return undefined;
    let current = true;
    api
      .reminder(account)
      .then((answer) => current && setOn(answer.reminder === true))
      // Refused (not a VK user the service knows) or unreachable: no switch rather than a wrong one.
      .catch(() => current && setOn(null));
    return () => {
      current = false;
    };
  }, [vk, api, account]);

  if (!vk || on === null) return null;

  async function toggle(event) {
    const wanted = event.target.checked;
    setBusy(true);
    setProblem(null);
    try {
      if (wanted) {
        try {
          const allowed = await bridgeCall('VKWebAppAllowNotifications', {}, ALLOW_TIMEOUT_MS);
          if (allowed?.result !== true) throw new Error('not allowed');
        } catch {
          setProblem(NOT_ALLOWED);
          return;
        }
        const answer = await api.turnReminderOn(account);
        setOn(answer.reminder === true);
      } else {
        const answer = await api.turnReminderOff(account);
        setOn(answer.reminder === true);
      }
    } catch (refused) {
      setProblem(refused);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Group>
      <SimpleCell
        Component="label"
        multiline
        subtitle={<span id={hint}>15 числа и накануне конца приёма, если показания ещё не переданы</span>}
        after={
          <Switch
            checked={on}
            disabled={busy}
            onChange={toggle}
            aria-labelledby={title}
            aria-describedby={hint}
            data-testid="reminder-switch"
          />
        }
      >
        <span id={title}>Напоминать о показаниях</span>
      </SimpleCell>
      {problem && <ProblemNote problem={problem} />}
    </Group>
  );
}
