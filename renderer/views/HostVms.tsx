// The VMs of a vSphere host's inventory, each with "Back up now": a backup read from the host
// through a snapshot, in the transport chosen on its row; the job opens in the queue.
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Button, Checkbox, Content, Form, FormGroup, FormSelect, FormSelectOption, SearchInput } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { TransportMode } from '../../shared/domain.ts';
import { useApi, useHostInventory, useHosts } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { InlineError } from './common/InlineError.tsx';
import { SectionCard } from './common/SectionCard.tsx';

const transports: { value: TransportMode; label: string }[] = [
  { value: 'auto', label: 'Auto (SAN, then HotAdd, then NBD)' },
  { value: 'san', label: 'Direct SAN' },
  { value: 'hotadd', label: 'HotAdd' },
  { value: 'nbd', label: 'NBD (network)' },
];

/** A vCenter holds thousands of VMs: rows beyond this wait for a narrower filter. */
const SHOWN_ROWS = 200;

function HostVmRow({ host, vm }: { host: string; vm: string }) {
  const api = useApi();
  const queries = useQueryClient();
  const openJob = useConsole((state) => state.openJob);
  const [transport, setTransport] = useState<TransportMode>('auto');
  const [quiesce, setQuiesce] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const backUp = (): void => {
    setBusy(true);
    setError(null);
    api.invoke('backup.start', { source: { kind: 'vsphere', host, vm, transport, quiesce } }).then(
      async ({ job }) => {
        await queries.invalidateQueries({ queryKey: ['jobs'] });
        openJob(job.id);
      },
      (failure: Error) => {
        setError(failure.message);
        setBusy(false);
      },
    );
  };
  return (
    <Tr data-host-vm={vm}>
      <Td dataLabel="VM">{vm}</Td>
      <Td dataLabel="Transport">
        <FormSelect aria-label={`Transport for ${vm}`} value={transport} onChange={(_event, value) => setTransport(value as TransportMode)}>
          {transports.map((option) => (
            <FormSelectOption key={option.value} value={option.value} label={option.label} />
          ))}
        </FormSelect>
      </Td>
      <Td dataLabel="Snapshot">
        <Checkbox
          id={`quiesce-${host}-${vm}`}
          label="Quiesce"
          aria-label={`Quiesce ${vm}`}
          isChecked={quiesce}
          onChange={(_event, checked) => setQuiesce(checked)}
        />
      </Td>
      <Td isActionCell>
        <Button variant="secondary" size="sm" aria-label={`Back up now: ${vm}`} isDisabled={busy} isLoading={busy} onClick={backUp}>
          Back up now
        </Button>
        <InlineError error={error} />
      </Td>
    </Tr>
  );
}

export function HostVms() {
  const hosts = useHosts();
  const [host, setHost] = useState('');
  const [filter, setFilter] = useState('');
  const inventory = useHostInventory(host || null);
  if (!hosts.data || hosts.data.length === 0) return null;
  const needle = filter.trim().toLowerCase();
  const matching = (inventory.data?.vms ?? []).filter((vm) => vm.toLowerCase().includes(needle));
  return (
    <SectionCard id="host-vms-heading" title="Back up from vSphere">
      <Content component="p">
        A snapshot of the VM is read through the transport, then removed; the point restores like a local backup's.
      </Content>
      <Form isHorizontal onSubmit={(event) => event.preventDefault()}>
        <FormGroup label="vSphere host" fieldId="host-vms-host">
          <FormSelect id="host-vms-host" value={host} onChange={(_event, value) => setHost(value)}>
            <FormSelectOption value="" label="Choose…" />
            {hosts.data.map((entry) => (
              <FormSelectOption key={entry.id} value={entry.name} label={entry.name} />
            ))}
          </FormSelect>
        </FormGroup>
        {host && (
          <FormGroup label="Find a VM" fieldId="host-vms-filter">
            <SearchInput
              id="host-vms-filter"
              aria-label="Find a VM"
              value={filter}
              onChange={(_event, value) => setFilter(value)}
              onClear={() => setFilter('')}
            />
          </FormGroup>
        )}
      </Form>
      {host && inventory.isPending && <p role="status">Reading the inventory of {host}…</p>}
      <InlineError error={host && inventory.isError ? inventory.error.message : null} />
      {host && inventory.data && (
        <Table role="table" aria-label={`VMs on ${host}`} variant="compact">
          <Thead>
            <Tr>
              <Th>VM</Th>
              <Th>Transport</Th>
              <Th>Snapshot</Th>
              <Th screenReaderText="Actions" />
            </Tr>
          </Thead>
          <Tbody>
            {matching.slice(0, SHOWN_ROWS).map((vm) => (
              <HostVmRow key={`${host}/${vm}`} host={host} vm={vm} />
            ))}
          </Tbody>
        </Table>
      )}
      {matching.length > SHOWN_ROWS && (
        <Content component="p">{matching.length - SHOWN_ROWS} more VMs match: narrow the filter to see them.</Content>
      )}
      {host && inventory.data && matching.length === 0 && <Content component="p">No VM on {host} matches.</Content>}
    </SectionCard>
  );
}
