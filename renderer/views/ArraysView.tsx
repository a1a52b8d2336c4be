// Storage arrays: volumes, snapshots (restore points of the snapshot tier, each restorable from a
// clone), and the live clones with the job that uses each and where they are presented.
// Tables are role="table": PatternFly's default role="grid" promises arrow-key navigation they do not have.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Card,
  CardBody,
  CardHeader,
  CardTitle,
  Checkbox,
  Content,
  EmptyState,
  EmptyStateBody,
  Flex,
  Form,
  FormGroup,
  Stack,
  TextInput,
  Title,
} from '@patternfly/react-core';
import { Caption, Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { ArrayView, StorageSnapshotPoint } from '../../shared/domain.ts';
import { useApi, useArrays, useStorageSnapshots } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { toggled } from './toggled.ts';
import { AlternateLocation } from './LocationNote.tsx';
import { InlineError } from './common/InlineError.tsx';

function RestoreFromSnapshot({ snapshot }: { snapshot: StorageSnapshotPoint }) {
  const api = useApi();
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [path, setPath] = useState('');
  const [error, setError] = useState<string | null>(null);
  const toggle = (name: string): void => setPicked(toggled(picked, name));
  const start = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('restore.fromSnapshot', { vms: [...picked], snapshot: snapshot.id, target: { kind: 'local', path: path.trim() } }).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  if (snapshot.vms.length === 0) return <span className="pf-v6-u-text-color-subtle">no VMs on it</span>;
  return (
    <Form onSubmit={start} aria-label={`Restore from ${snapshot.id}`}>
      <Flex spaceItems={{ default: 'spaceItemsMd' }}>
        {snapshot.vms.map((vm) => (
          <Checkbox
            key={vm.name}
            id={`${snapshot.id}-${vm.name}`}
            label={vm.name}
            isChecked={picked.has(vm.name)}
            onChange={() => toggle(vm.name)}
          />
        ))}
      </Flex>
      <AlternateLocation what="the VMs are restored as new copies from a clone of the snapshot" />
      <FormGroup label="Restore to folder" fieldId={`${snapshot.id}-folder`}>
        <TextInput
          id={`${snapshot.id}-folder`}
          value={path}
          onChange={(_event, value) => setPath(value)}
          placeholder="/srv/from-snapshot"
        />
      </FormGroup>
      <div>
        <Button type="submit" variant="primary" isDisabled={picked.size === 0 || !path.trim()}>
          Restore {picked.size} VM(s) from a clone
        </Button>
      </div>
      <InlineError error={error} />
    </Form>
  );
}

function Volumes({ array }: { array: ArrayView }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const take = (volume: string): void => {
    setError(null);
    api.invoke('arrays.snapshot', { volume }).catch((failure: Error) => setError(failure.message));
  };
  return (
    <>
      <Table role="table" variant="compact">
        <Caption>Volumes of {array.name}</Caption>
        <Thead>
          <Tr>
            <Th>Volume</Th>
            <Th>Datastore folder</Th>
            <Th>Actions</Th>
          </Tr>
        </Thead>
        <Tbody>
          {array.volumes.map((volume) => (
            <Tr key={volume.name}>
              <Td dataLabel="Volume">{volume.name}</Td>
              <Td dataLabel="Datastore folder">{volume.folder}</Td>
              <Td dataLabel="Actions">
                <Button variant="secondary" size="sm" onClick={() => take(volume.name)}>
                  Take a snapshot of {volume.name}
                </Button>
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      <InlineError error={error} />
    </>
  );
}

/** A table row saying the table has nothing to show. */
function NothingRow({ columns, text }: { columns: number; text: string }) {
  return (
    <Tr>
      <Td colSpan={columns} className="pf-v6-u-text-color-subtle">
        {text}
      </Td>
    </Tr>
  );
}

function Snapshots({ array, snapshots }: { array: ArrayView; snapshots: StorageSnapshotPoint[] }) {
  return (
    <Table role="table" variant="compact">
      <Caption>Snapshots of {array.name} (restore points of the snapshot tier)</Caption>
      <Thead>
        <Tr>
          <Th>Snapshot</Th>
          <Th>Volume</Th>
          <Th>Taken</Th>
          <Th>Restore</Th>
        </Tr>
      </Thead>
      <Tbody>
        {snapshots.length === 0 && <NothingRow columns={4} text="No snapshots." />}
        {snapshots.map((snapshot) => (
          <Tr key={snapshot.id} data-snapshot={snapshot.id}>
            <Td dataLabel="Snapshot">{snapshot.id}</Td>
            <Td dataLabel="Volume">{snapshot.volume}</Td>
            <Td dataLabel="Taken">{formatTime(snapshot.createdAt)}</Td>
            <Td dataLabel="Restore">
              <RestoreFromSnapshot snapshot={snapshot} />
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

function Clones({ array }: { array: ArrayView }) {
  return (
    <Table role="table" variant="compact">
      <Caption>Live clones of {array.name}</Caption>
      <Thead>
        <Tr>
          <Th>Clone</Th>
          <Th>Of snapshot</Th>
          <Th>Used by</Th>
          <Th>Allowed servers</Th>
          <Th>Presented as</Th>
        </Tr>
      </Thead>
      <Tbody>
        {array.clones.length === 0 && <NothingRow columns={5} text="No live clones." />}
        {array.clones.map((clone) => (
          <Tr key={clone.id} data-clone={clone.id}>
            <Td dataLabel="Clone">{clone.id}</Td>
            <Td dataLabel="Of snapshot">{clone.snapshotId}</Td>
            <Td dataLabel="Used by">{clone.usedBy}</Td>
            <Td dataLabel="Allowed servers">{clone.allowedServers.join(', ') || '—'}</Td>
            <Td dataLabel="Presented as">
              {clone.presentations.map((entry) => `${entry.datastore} on ${entry.host} (${entry.protocol})`).join(', ') || '—'}
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

function OneArray({ array, snapshots }: { array: ArrayView; snapshots: StorageSnapshotPoint[] }) {
  return (
    <Card component="section" aria-labelledby={`array-${array.name}`}>
      <CardHeader>
        <CardTitle component="h3" id={`array-${array.name}`}>
          {array.name}
        </CardTitle>
        <Content component="p" className="pf-v6-u-text-color-subtle">
          Serial {array.serial}, {array.protocol.toUpperCase()} at {array.address}; {array.clones.length} of {array.cloneQuota} clones in
          use, {array.clonesCreated} made so far.
        </Content>
      </CardHeader>
      <CardBody>
        <Stack hasGutter>
          <Volumes array={array} />
          <Snapshots array={array} snapshots={snapshots} />
          <Clones array={array} />
        </Stack>
      </CardBody>
    </Card>
  );
}

export function ArraysView() {
  const arrays = useArrays();
  const snapshots = useStorageSnapshots();
  return (
    <section aria-labelledby="arrays-heading">
      <Stack hasGutter>
        <Title headingLevel="h2" id="arrays-heading">
          Storage arrays
        </Title>
        {(arrays.data ?? []).length === 0 ? (
          <EmptyState headingLevel="h3" titleText="No storage arrays" variant="sm">
            <EmptyStateBody>
              <code>lifeboat array create &lt;name&gt; --path DIR</code> makes a file-backed one (its folder on XFS or btrfs).
            </EmptyStateBody>
          </EmptyState>
        ) : (
          (arrays.data ?? []).map((array) => (
            <OneArray
              key={array.name}
              array={array}
              snapshots={(snapshots.data ?? []).filter((snapshot) => snapshot.array === array.name)}
            />
          ))
        )}
      </Stack>
    </section>
  );
}
