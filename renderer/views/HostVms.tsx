// The VMs of a vSphere host's inventory, each with "Back up now": a backup read from the host
// through a snapshot, in the transport chosen on its row; the job opens in the queue.
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { TransportMode } from '../../shared/domain.ts';
import { useApi, useHostInventory, useHosts } from '../api/queries.ts';
import { useConsole } from '../store.ts';

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
    <tr data-host-vm={vm}>
      <td>{vm}</td>
      <td>
        <select
          aria-label={`Transport for ${vm}`}
          value={transport}
          onChange={(event) => setTransport(event.target.value as TransportMode)}
        >
          {transports.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </td>
      <td>
        <label className="choice">
          <input type="checkbox" checked={quiesce} onChange={(event) => setQuiesce(event.target.checked)} /> Quiesce
          <span className="visually-hidden"> {vm}</span>
        </label>
      </td>
      <td>
        <button aria-label={`Back up now: ${vm}`} disabled={busy} onClick={backUp}>
          Back up now
        </button>
        {error && <p role="alert">{error}</p>}
      </td>
    </tr>
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
    <section aria-labelledby="host-vms-heading">
      <h2 id="host-vms-heading">Back up from vSphere</h2>
      <p className="muted">A snapshot of the VM is read through the transport, then removed; the point restores like a local backup's.</p>
      <label htmlFor="host-vms-host">vSphere host</label>{' '}
      <select id="host-vms-host" value={host} onChange={(event) => setHost(event.target.value)}>
        <option value="">Choose…</option>
        {hosts.data.map((entry) => (
          <option key={entry.id} value={entry.name}>
            {entry.name}
          </option>
        ))}
      </select>{' '}
      {host && (
        <label>
          Find a VM <input type="search" value={filter} onChange={(event) => setFilter(event.target.value)} />
        </label>
      )}
      {host && inventory.isPending && <p role="status">Reading the inventory of {host}…</p>}
      {host && inventory.isError && <p role="alert">{inventory.error.message}</p>}
      {host && inventory.data && (
        <table className="grid" aria-label={`VMs on ${host}`}>
          <thead>
            <tr>
              <th>VM</th>
              <th>Transport</th>
              <th>Snapshot</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {matching.slice(0, SHOWN_ROWS).map((vm) => (
              <HostVmRow key={`${host}/${vm}`} host={host} vm={vm} />
            ))}
          </tbody>
        </table>
      )}
      {matching.length > SHOWN_ROWS && (
        <p className="muted">{matching.length - SHOWN_ROWS} more VMs match: narrow the filter to see them.</p>
      )}
      {host && inventory.data && matching.length === 0 && <p className="muted">No VM on {host} matches.</p>}
    </section>
  );
}
