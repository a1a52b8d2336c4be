// Settings: where the home's catalog is and which engines run on it, and a move of a SQLite
// catalog to PostgreSQL (the same as `--catalog` and `lifeboat catalog migrate`), made at the
// engine's next start: the running engine's catalog is never changed under its jobs.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import {
  ActionGroup,
  Alert,
  Button,
  Content,
  DescriptionList,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Stack,
  TextInput,
} from '@patternfly/react-core';
import type { CatalogInfo } from '../../shared/domain.ts';
import { useApi, useCatalogInfo } from '../api/queries.ts';
import { Fact } from './common/Fact.tsx';
import { InlineError } from './common/InlineError.tsx';
import { SectionCard } from './common/SectionCard.tsx';
import { formatTime } from './time.ts';

function CatalogFacts({ info }: { info: CatalogInfo }) {
  return (
    <DescriptionList isCompact isHorizontal aria-label="Catalog">
      <Fact term="Kept in">{info.backend === 'sqlite' ? 'SQLite, in the home' : 'PostgreSQL'}</Fact>
      <Fact term="Location">
        <code>{info.location}</code>
      </Fact>
      <Fact term="Shared">{info.shared ? 'yes: engines share its job queue (serve --shared)' : 'no: this engine alone'}</Fact>
      {info.engines.length > 0 && (
        <Fact term="Engines running on it">
          <ul aria-label="Engines running on the catalog">
            {info.engines.map((engine) => (
              <li key={engine.id}>
                {engine.host} (pid {engine.pid}, since {formatTime(engine.startedAt)}){engine.self ? ', this one' : ''}
              </li>
            ))}
          </ul>
        </Fact>
      )}
    </DescriptionList>
  );
}

function MoveForm({ info }: { info: CatalogInfo }) {
  const api = useApi();
  const queries = useQueryClient();
  const [url, setUrl] = useState('');
  const [error, setError] = useState<string | null>(null);
  const ask = (to: string | null): void => {
    setError(null);
    api.invoke('catalog.move', { to }).then(
      (updated) => {
        queries.setQueryData(['catalog'], updated);
        setUrl('');
      },
      (failure: Error) => setError(failure.message),
    );
  };
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    ask(url.trim());
  };
  if (info.moveAtNextStart)
    return (
      <Stack hasGutter>
        <Alert variant="info" isInline component="p" title={`The catalog moves to ${info.moveAtNextStart.to} at the engine's next start`}>
          Asked by {info.moveAtNextStart.askedBy} at {formatTime(info.moveAtNextStart.askedAt)}. Restart the app (or{' '}
          <code>lifeboat serve</code>) to move it: every table is copied and checked, and the SQLite file is kept aside.
        </Alert>
        <InlineError error={error} />
        <div>
          <Button variant="secondary" onClick={() => ask(null)}>
            Withdraw the move
          </Button>
        </div>
      </Stack>
    );
  return (
    <Form onSubmit={submit} aria-label="Move the catalog to PostgreSQL">
      <FormGroup label="PostgreSQL URL" fieldId="catalog-move-to" isRequired>
        <TextInput
          id="catalog-move-to"
          type="password"
          value={url}
          onChange={(_event, value) => setUrl(value)}
          placeholder="postgresql://lifeboat@db.example/lifeboat"
          autoComplete="off"
        />
        <FormHelperText>
          <HelperText>
            <HelperTextItem>
              An empty database, checked now; the move is made at the engine's next start. The URL is kept in the home, readable only by its
              owner.
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
      <InlineError error={error} />
      <ActionGroup>
        <Button type="submit" variant="primary" isDisabled={!url.trim()}>
          Move at next start
        </Button>
      </ActionGroup>
    </Form>
  );
}

function CatalogSettings() {
  const catalog = useCatalogInfo();
  if (catalog.error) return <InlineError error={catalog.error.message} />;
  if (!catalog.data)
    return (
      <Content component="p" role="status">
        Loading the catalog…
      </Content>
    );
  const info = catalog.data;
  return (
    <Stack hasGutter>
      <CatalogFacts info={info} />
      {info.lastMoveFailure && (
        <Alert variant="danger" isInline component="p" title={`The move to ${info.lastMoveFailure.to} was not made`}>
          {info.lastMoveFailure.message} (at {formatTime(info.lastMoveFailure.at)}). The home kept its SQLite catalog.
        </Alert>
      )}
      {info.backend === 'sqlite' && <MoveForm info={info} />}
    </Stack>
  );
}

export function SettingsView() {
  return (
    <SectionCard id="catalog-heading" title="Catalog">
      <CatalogSettings />
    </SectionCard>
  );
}
