// The Instant Recovery sessions: where each runs, its state, cache, read and write rates, age.
import { EmptyState, Label, type LabelProps } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { InstantState } from '../../../shared/domain.ts';
import { formatAge, formatBytes } from '../../../shared/format.ts';
import { useInstantSessions } from '../../api/queries.ts';
import { SessionActions } from './SessionActions.tsx';
import { useRates } from './session-rates.ts';

const stateColors: Record<InstantState, LabelProps['color']> = {
  starting: 'blue',
  running: 'green',
  migrating: 'blue',
  stopping: 'grey',
  stopped: 'grey',
  migrated: 'teal',
  failed: 'red',
};

export function Sessions() {
  const sessions = useInstantSessions();
  const list = sessions.data ?? [];
  const rates = useRates(list);
  if (list.length === 0) return <EmptyState titleText="No Instant Recovery sessions" headingLevel="h3" />;
  return (
    <Table role="table" aria-label="Instant Recovery sessions" variant="compact">
      <Thead>
        <Tr>
          <Th>VM</Th>
          <Th>Runs as</Th>
          <Th>Host</Th>
          <Th>Datastore</Th>
          <Th>State</Th>
          <Th>Cache</Th>
          <Th>Reads</Th>
          <Th>Writes</Th>
          <Th>Age</Th>
          <Th>Powered on</Th>
          <Th>Actions</Th>
        </Tr>
      </Thead>
      <Tbody>
        {list.map((session) => {
          const rate = rates.get(session.id) ?? { read: 0, written: 0 };
          return (
            <Tr key={session.id} data-session={session.id}>
              <Td dataLabel="VM">{session.vmName}</Td>
              <Td dataLabel="Runs as">{session.name}</Td>
              <Td dataLabel="Host">
                {session.host}
                {session.hostSystem ? ` / ${session.hostSystem}` : ''}
              </Td>
              <Td dataLabel="Datastore" title={session.nfsUrl}>
                {session.datastore}
              </Td>
              <Td dataLabel="State" data-state={session.state}>
                <Label color={stateColors[session.state]} isCompact>
                  {session.state}
                </Label>
              </Td>
              <Td dataLabel="Cache">
                {formatBytes(session.cacheBytes)}
                {session.redirected ? ' (redirected)' : ''}
              </Td>
              <Td dataLabel="Reads">
                {formatBytes(rate.read)}/s ({formatBytes(session.bytesRead)})
              </Td>
              <Td dataLabel="Writes">
                {formatBytes(rate.written)}/s ({formatBytes(session.bytesWritten)})
              </Td>
              <Td dataLabel="Age">{formatAge(session.createdAt, session.endedAt)}</Td>
              <Td dataLabel="Powered on">{session.poweredOnSeconds === null ? '—' : `${session.poweredOnSeconds.toFixed(1)} s`}</Td>
              <Td dataLabel="Actions">
                <SessionActions session={session} />
              </Td>
            </Tr>
          );
        })}
      </Tbody>
    </Table>
  );
}
