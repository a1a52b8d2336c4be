// A running session's actions: migrate it to a production datastore, or stop it (asked first:
// its writes are discarded).
import { useState } from 'react';
import { Button, Flex, FlexItem, FormSelect, FormSelectOption } from '@patternfly/react-core';
import type { InstantSession } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { useApi, useHostInventory } from '../../api/queries.ts';
import { InlineError } from '../common/InlineError.tsx';

export function SessionActions({ session }: { session: InstantSession }) {
  const api = useApi();
  const inventory = useHostInventory(session.host);
  const [mode, setMode] = useState<'idle' | 'migrate' | 'stop'>('idle');
  const [datastore, setDatastore] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (session.state !== 'running') return <>{session.note ?? '—'}</>;
  const act = (call: Promise<unknown>): void => {
    setError(null);
    call.then(
      () => setMode('idle'),
      (failure: Error) => setError(failure.message),
    );
  };
  const production = (inventory.data?.datastores ?? []).filter((entry) => entry.name !== session.datastore && entry.type !== 'NFS');
  return (
    <>
      {/* A running session may still say something: nobody serves it now, or a restart could not yet. */}
      {session.note !== null && <p>{session.note}</p>}
      {mode === 'idle' && (
        <Flex spaceItems={{ default: 'spaceItemsSm' }} flexWrap={{ default: 'nowrap' }}>
          <Button variant="secondary" size="sm" onClick={() => setMode('migrate')}>
            Migrate {session.name}
          </Button>
          <Button variant="secondary" isDanger size="sm" onClick={() => setMode('stop')}>
            Stop {session.name}
          </Button>
        </Flex>
      )}
      {mode === 'migrate' && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            act(api.invoke('instant.migrate', { sessionId: session.id, datastore }));
          }}
        >
          <Flex spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <FlexItem>
              <FormSelect
                aria-label={`Production datastore for ${session.name}`}
                value={datastore}
                onChange={(_event, value) => setDatastore(value)}
                isRequired
              >
                <FormSelectOption value="" label="Production datastore…" />
                {production.map((entry) => (
                  <FormSelectOption key={entry.name} value={entry.name} label={`${entry.name} (${formatBytes(entry.freeSpace)} free)`} />
                ))}
              </FormSelect>
            </FlexItem>
            <Button type="submit" size="sm" isDisabled={!datastore}>
              Migrate to {datastore || '…'}
            </Button>
            <Button type="button" variant="link" size="sm" onClick={() => setMode('idle')}>
              Back
            </Button>
          </Flex>
        </form>
      )}
      {mode === 'stop' && (
        <Flex
          role="group"
          aria-label={`Stop ${session.name}?`}
          spaceItems={{ default: 'spaceItemsSm' }}
          alignItems={{ default: 'alignItemsCenter' }}
        >
          <FlexItem>
            Power {session.name} off and discard its {formatBytes(session.cacheBytes)} of writes?
          </FlexItem>
          <Button variant="danger" size="sm" onClick={() => act(api.invoke('instant.stop', { sessionId: session.id }))}>
            Yes, stop it
          </Button>
          <Button variant="link" size="sm" onClick={() => setMode('idle')} autoFocus>
            Back
          </Button>
        </Flex>
      )}
      <InlineError error={error} />
    </>
  );
}
