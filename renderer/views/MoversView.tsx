// Data movers: the `lifeboat mover` processes on proxy hosts that write restored disks where
// their datastores are. Each with its state, what it reaches, the disks it carries now and how
// fast, what went wrong last and when its certificate expires; add one (a one-time join token),
// remove one (its certificate is revoked and its tasks go to another mover).
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Button, Content, EmptyState, Label, List, ListItem, Stack, type LabelProps } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { MoverState, MoverSummary, MoverTask } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';
import { useApi, useMovers } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { Confirmed } from './Confirmed.tsx';
import { InlineError } from './common/InlineError.tsx';
import { MoverAddForm } from './MoverAddForm.tsx';
import { formatTime } from './time.ts';
import { SectionCard } from './common/SectionCard.tsx';

const transportNames: Record<MoverSummary['transports'][number], string> = { san: 'SAN', hotadd: 'HotAdd', nbd: 'NBD' };
const stateColors: Record<MoverState, LabelProps['color']> = {
  'awaiting-join': 'orange',
  connected: 'green',
  disconnected: 'red',
  removed: 'grey',
};

function TaskLine({ task }: { task: MoverTask }) {
  const openJob = useConsole((state) => state.openJob);
  const percent = task.bytesTotal > 0 ? Math.min(100, Math.floor((task.bytesDone * 100) / task.bytesTotal)) : 0;
  return (
    <ListItem>
      <Button
        variant="link"
        isInline
        onClick={() => openJob(task.jobId)}
        aria-label={`Job ${task.jobId.slice(0, 8)}, disk ${task.disk}: open the job`}
      >
        job {task.jobId.slice(0, 8)}
      </Button>{' '}
      {task.disk} · {percent}%
    </ListItem>
  );
}

function RemoveMover({ mover }: { mover: MoverSummary }) {
  const api = useApi();
  const queries = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const remove = (): void => {
    setError(null);
    api.invoke('movers.remove', { mover: mover.name }).then(
      () => void queries.invalidateQueries({ queryKey: ['movers'] }),
      (failure: Error) => setError(failure.message),
    );
  };
  const running = mover.tasks.length;
  return (
    <>
      <Confirmed
        label={`Remove ${mover.name}`}
        question={`Remove mover ${mover.name}? Its certificate is revoked and ${
          running > 0 ? `its ${running} running task(s) move` : 'any task it is running moves'
        } to another mover that can take them.`}
        confirmLabel={`Yes, remove ${mover.name}`}
        onConfirm={remove}
      />
      <InlineError error={error} />
    </>
  );
}

function MoverRow({ mover }: { mover: MoverSummary }) {
  const datastores = Object.entries(mover.datastores);
  const online = mover.state === 'connected';
  return (
    <Tr data-mover={mover.name} data-state={mover.state}>
      <Td component="th" scope="row" dataLabel="Name">
        {mover.name}
      </Td>
      <Td dataLabel="vSphere host">{mover.host}</Td>
      <Td dataLabel="Proxy VM">{mover.proxyVm ?? '—'}</Td>
      <Td dataLabel="State">
        <Label color={stateColors[mover.state]} isCompact>
          {mover.state}
        </Label>
      </Td>
      <Td dataLabel="Transports">{mover.transports.map((transport) => transportNames[transport]).join(', ') || '—'}</Td>
      <Td dataLabel="Datastores it sees">
        {datastores.length === 0 ? (
          '—'
        ) : (
          <List isPlain>
            {datastores.map(([name, path]) => (
              <ListItem key={name}>
                {name} at {path}
              </ListItem>
            ))}
          </List>
        )}
      </Td>
      <Td dataLabel="Tasks">
        {mover.tasks.length === 0 ? (
          online ? (
            `idle, ${mover.slots} slot(s)`
          ) : (
            '—'
          )
        ) : (
          <List isPlain>
            {mover.tasks.map((task) => (
              <TaskLine key={`${task.jobId}/${task.disk}`} task={task} />
            ))}
          </List>
        )}
      </Td>
      <Td dataLabel="Throughput">{online ? `${formatBytes(mover.bytesPerSecond)}/s` : '—'}</Td>
      <Td dataLabel="Last error" className={mover.lastError ? 'pf-v6-u-text-color-status-danger' : undefined}>
        {mover.lastError ?? '—'}
      </Td>
      <Td dataLabel="Last seen">{mover.lastSeenAt ? formatTime(mover.lastSeenAt) : 'never'}</Td>
      <Td dataLabel="Certificate expires">{mover.certificateExpiresAt ? formatTime(mover.certificateExpiresAt) : '—'}</Td>
      <Td isActionCell>{mover.state !== 'removed' && <RemoveMover mover={mover} />}</Td>
    </Tr>
  );
}

export function MoversView() {
  const movers = useMovers();
  return (
    <Stack hasGutter>
      <SectionCard id="movers-heading" title="Data movers">
        <Content component="p">
          A mover runs on a proxy host (<code>lifeboat mover</code>) and writes restored disks to the datastores that host sees; without
          one, the engine's own workers carry the bytes.
        </Content>
        {movers.isPending && <p role="status">Loading movers…</p>}
        <InlineError error={movers.isError ? `Could not load movers: ${movers.error.message}` : null} />
        {movers.data && movers.data.length === 0 && <EmptyState titleText="No movers yet." headingLevel="h3" />}
        {movers.data && movers.data.length > 0 && (
          <Table role="table" aria-label="Data movers" variant="compact">
            <Thead>
              <Tr>
                <Th>Name</Th>
                <Th>vSphere host</Th>
                <Th>Proxy VM</Th>
                <Th>State</Th>
                <Th>Transports</Th>
                <Th>Datastores it sees</Th>
                <Th>Tasks</Th>
                <Th>Throughput</Th>
                <Th>Last error</Th>
                <Th>Last seen</Th>
                <Th>Certificate expires</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {movers.data.map((mover) => (
                <MoverRow key={mover.id} mover={mover} />
              ))}
            </Tbody>
          </Table>
        )}
      </SectionCard>
      <MoverAddForm />
    </Stack>
  );
}
