// The wizard's target step: a local datastore folder, or a vSphere host with its ESXi host,
// datastore, network, disk format and transport mode.
import { useId, type ChangeEvent, type ReactNode } from 'react';
import type { RequestOf } from '../../shared/contract.ts';
import { formatBytes } from '../../shared/format.ts';
import { useQuery } from '@tanstack/react-query';
import { useApi, useHostInventory, useHosts } from '../api/queries.ts';

export type TargetChoice = {
  kind: 'local' | 'vsphere';
  path: string;
  host: string;
  hostSystem: string;
  datastore: string;
  network: string;
  diskFormat: 'thin' | 'thick';
  transport: 'auto' | 'nbd' | 'hotadd' | 'san';
  /** Original location: roll the existing VM back in place (vSphere only). */
  original: boolean;
  confirmOverwrite: boolean;
};

export const emptyTarget: TargetChoice = { kind: 'local', path: '', host: '', hostSystem: '', datastore: '', network: '', diskFormat: 'thin', transport: 'auto', original: false, confirmOverwrite: false };

export function targetComplete(target: TargetChoice): boolean {
  if (target.kind === 'local') return target.path.trim() !== '';
  return target.host !== '' && (!target.original || target.confirmOverwrite);
}

export function targetRequest(target: TargetChoice): RequestOf<'restore.entireVm'>['target'] {
  if (target.kind === 'local') return { kind: 'local', path: target.path.trim() };
  if (target.original) return { kind: 'vsphere', host: target.host, transport: target.transport, original: true, confirmOverwrite: target.confirmOverwrite };
  const optional = (value: string, field: string) => (value ? { [field]: value } : {});
  return {
    kind: 'vsphere',
    host: target.host,
    diskFormat: target.diskFormat,
    transport: target.transport,
    ...optional(target.hostSystem, 'hostSystem'),
    ...optional(target.datastore, 'datastore'),
    ...optional(target.network, 'network'),
  };
}

export function describeTarget(target: TargetChoice): string {
  if (target.kind === 'local') return target.path;
  if (target.original) return `${target.host}: roll the VM back in place (original location, safety snapshot kept), transport ${target.transport}`;
  return `${target.host}${target.hostSystem ? ` / ${target.hostSystem}` : ''}, datastore ${target.datastore || 'chosen by free space'}, ${target.diskFormat}, transport ${target.transport}`;
}

/** A select with its own label element, so its accessible name is just the title. */
function Select({ title, value, onChange, children }: { title: string; value: string; onChange(event: ChangeEvent<HTMLSelectElement>): void; children: ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{title}</label>
      <select id={id} value={value} onChange={onChange}>
        {children}
      </select>
    </div>
  );
}

/** What an original-location restore would replace, fetched from the host before confirming. */
function OriginalPreviewPanel({ vm, point, target, onChange }: { vm: string; point: string; target: TargetChoice; onChange(target: TargetChoice): void }) {
  const api = useApi();
  const preview = useQuery({ queryKey: ['original-preview', vm, point, target.host], queryFn: () => api.invoke('restore.previewOriginal', { vm, point, host: target.host }) });
  if (preview.isPending) return <p role="status">Looking for the VM on {target.host}…</p>;
  if (preview.isError) return <p role="alert">{preview.error.message}</p>;
  return (
    <div className="preview" aria-label="What will be replaced">
      <p>
        {preview.data.vmName} on {preview.data.hostSystem} ({preview.data.powerState}) will be powered off and get the safety snapshot <code>{preview.data.safetySnapshot}</code>, kept until you remove it. Then:
      </p>
      <ul>{preview.data.disks.map((disk) => <li key={disk.key}>{disk.file} ({formatBytes(disk.capacity)}) is replaced by {disk.key} of the restore point</li>)}</ul>
      <label className="choice">
        <input type="checkbox" checked={target.confirmOverwrite} onChange={(event) => onChange({ ...target, confirmOverwrite: event.target.checked })} /> Replace these disks
      </label>
    </div>
  );
}

export function TargetStep({ target, onChange, vm, point }: { target: TargetChoice; onChange(target: TargetChoice): void; vm: string; point: string }) {
  const hosts = useHosts();
  const inventory = useHostInventory(target.kind === 'vsphere' && target.host ? target.host : null);
  const set = (patch: Partial<TargetChoice>): void => onChange({ ...target, ...patch });
  const esx = inventory.data?.hostSystems.find((host) => host.name === target.hostSystem);
  const datastores = inventory.data?.datastores.filter((ds) => !esx || esx.datastores.includes(ds.name)) ?? [];
  const networks = esx?.networks ?? [...new Set(inventory.data?.hostSystems.flatMap((host) => host.networks) ?? [])];
  return (
    <fieldset>
      <legend>Where to</legend>
      <label className="choice">
        <input type="radio" name="target-kind" checked={target.kind === 'local'} onChange={() => set({ kind: 'local' })} /> A folder on this machine (local datastore)
      </label>
      <label className="choice">
        <input type="radio" name="target-kind" checked={target.kind === 'vsphere'} disabled={!hosts.data?.length} onChange={() => set({ kind: 'vsphere', host: hosts.data?.[0]?.name ?? '' })} /> A vSphere host
        {!hosts.data?.length && <span className="muted"> (none added yet: <code>lifeboat hosts add vsphere …</code>)</span>}
      </label>
      {target.kind === 'local' ? (
        <label>
          Target folder (new or empty, on this machine)
          <input name="target" value={target.path} onChange={(event) => set({ path: event.target.value })} placeholder="/srv/datastore/restored-vm" autoFocus required />
        </label>
      ) : (
        <>
          <Select title="vCenter / ESXi" value={target.host} onChange={(event) => set({ host: event.target.value, hostSystem: '', datastore: '', network: '' })}>
              {hosts.data?.map((host) => <option key={host.id} value={host.name}>{host.name}</option>)}
          </Select>
          <label className="choice">
            <input type="checkbox" checked={target.original} onChange={(event) => set({ original: event.target.checked, confirmOverwrite: false })} /> Original location: roll the existing VM back in place
          </label>
          {target.original && <OriginalPreviewPanel vm={vm} point={point} target={target} onChange={onChange} />}
          {!target.original && inventory.isPending && <p role="status">Reading the inventory of {target.host}…</p>}
          {!target.original && inventory.isError && <p role="alert">{inventory.error.message}</p>}
          {!target.original && inventory.data && (
            <>
              <Select title="ESXi host" value={target.hostSystem} onChange={(event) => set({ hostSystem: event.target.value, datastore: '', network: '' })}>
                  <option value="">Any connected host</option>
                  {inventory.data.hostSystems.filter((host) => host.connected).map((host) => <option key={host.name} value={host.name}>{host.name}</option>)}
              </Select>
              <Select title="Datastore" value={target.datastore} onChange={(event) => set({ datastore: event.target.value })}>
                  <option value="">The one with the most free space</option>
                  {datastores.map((ds) => <option key={ds.name} value={ds.name}>{ds.name} ({ds.type}, {formatBytes(ds.freeSpace)} free)</option>)}
              </Select>
              <Select title="Network" value={target.network} onChange={(event) => set({ network: event.target.value })}>
                  <option value="">Same name as in the backup, if the host has it</option>
                  {networks.map((network) => <option key={network} value={network}>{network}</option>)}
              </Select>
              <Select title="Disk format" value={target.diskFormat} onChange={(event) => set({ diskFormat: event.target.value as TargetChoice['diskFormat'] })}>
                  <option value="thin">Thin</option>
                  <option value="thick">Thick (lazy zeroed)</option>
              </Select>
              <Select title="Transport mode" value={target.transport} onChange={(event) => set({ transport: event.target.value as TargetChoice['transport'] })}>
                  <option value="auto">Automatic</option>
                  <option value="nbd">Network (NBD)</option>
                  <option value="hotadd">Virtual appliance (HotAdd) — needs a proxy</option>
                  <option value="san">Direct SAN — needs a proxy</option>
              </Select>
            </>
          )}
        </>
      )}
    </fieldset>
  );
}
