// The accounts opened on earlier visits (savedAccounts.js), under the look-up form: one tap opens
// one, each can be given a name of the customer's own or removed from the list.
import { useEffect, useState } from 'react';
import { Button, ButtonGroup, Div, FormItem, Group, Header, Input, SimpleCell } from '@vkontakte/vkui';
import { NAME_MAX, accountNameProblem, forgetAccount, nameAccount, recallAccounts } from './savedAccounts.js';

export function SavedAccounts({ launch, version, onOpen }) {
  const [saved, setSaved] = useState([]);
  const [naming, setNaming] = useState(null);

  useEffect(() => {
    let current = true;
    recallAccounts(launch).then((found) => {
      if (current) setSaved(found);
    });
    return () => {
      current = false;
    };
  }, [launch, version]);

  if (saved.length === 0) return null;
  return (
    <Group header={<Header multiline>Сохранённые лицевые счета</Header>} data-testid="saved-accounts">
      {saved.map((entry) => (
        <div key={entry.account} data-testid="saved-account" data-account={entry.account}>
          <SimpleCell
            multiline
            subtitle={entry.name ? `Лицевой счёт ${entry.account}` : 'Без названия'}
            onClick={() => onOpen(entry.account)}
          >
            {entry.name || `Лицевой счёт ${entry.account}`}
          </SimpleCell>
          {naming?.account === entry.account ? (
            <NameForm
              entry={entry}
              onDone={async (name) => {
                if (name !== null) setSaved(await nameAccount(launch, entry.account, name));
                setNaming(null);
              }}
            />
          ) : (
            <Div style={{ paddingTop: 0 }}>
              <ButtonGroup mode="horizontal" gap="s" stretched>
                <Button
                  mode="secondary"
                  size="m"
                  aria-label={`Назвать лицевой счёт ${entry.account}`}
                  onClick={() => setNaming({ account: entry.account })}
                >
                  Назвать
                </Button>
                <Button
                  mode="tertiary"
                  appearance="negative"
                  size="m"
                  aria-label={`Убрать из списка лицевой счёт ${entry.account}`}
                  onClick={async () => setSaved(await forgetAccount(launch, entry.account))}
                >
                  Убрать из списка
                </Button>
              </ButtonGroup>
            </Div>
          )}
        </div>
      ))}
    </Group>
  );
}

function NameForm({ entry, onDone }) {
  const [name, setName] = useState(entry.name);
  const problem = accountNameProblem(name);
  const id = `account-name-${entry.account.replace(/\D/g, '')}`;
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (!problem) onDone(name);
      }}
      noValidate
    >
      <FormItem
        top={`Название счёта ${entry.account}`}
        topMultiline
        htmlFor={id}
        status={problem ? 'error' : 'default'}
        bottom={problem ?? 'Например, «Квартира» или «Дача»'}
        bottomId={`${id}-hint`}
      >
        <Input
          id={id}
          name="account-name"
          autoComplete="off"
          maxLength={NAME_MAX + 8}
          aria-describedby={`${id}-hint`}
          aria-invalid={Boolean(problem)}
          value={name}
          onChange={(event) => setName(event.target.value)}
        />
      </FormItem>
      <Div style={{ paddingTop: 0 }}>
        <ButtonGroup mode="horizontal" gap="s" stretched>
          <Button type="submit" size="m" disabled={Boolean(problem)}>
            Сохранить
          </Button>
          <Button type="button" mode="tertiary" size="m" onClick={() => onDone(null)}>
            Отмена
          </Button>
        </ButtonGroup>
      </Div>
    </form>
  );
}
