// The wizard's target step (the location, original or alternate, is the mode step's). An alternate
// location is a local datastore folder, a vSphere host (ESXi host, default datastore and network,
// disk format, transport), the disks alone with an OVF or ARM template to create the VM from, or
// an Azure Storage container; the original location is the VM's vSphere host.
import { useId, type ChangeEvent, type ReactNode } from 'react';
import type { RequestOf } from '../../shared/contract.ts';
import type { TargetChoice } from '../restore-answers.ts';
import { formatBytes } from '../../shared/format.ts';
import { useAzureAccounts, useHostInventory, useHosts } from '../api/queries.ts';
import { hostOffer } from './wizard/placement.ts';

export type { TargetChoice } from '../restore-answers.ts';
export { emptyTarget } from '../restore-answers.ts';

const containerName = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

export function targetComplete(target: TargetChoice): boolean {
  if (target.kind === 'local' || target.kind === 'disks') return target.path.trim() !== '';
  if (target.kind === 'azure') return target.account !== '' && containerName.test(target.container);
  return target.host !== '' && (!target.original || target.confirmOverwrite);
}

/** The target of an entire-VM restore (local folder or vSphere host). */
export function targetRequest(target: TargetChoice): RequestOf<'restore.entireVm'>['target'] {
  if (target.kind !== 'vsphere') return { kind: 'local', path: target.path.trim() };
  if (target.original)
    return { kind: 'vsphere', host: target.host, transport: target.transport, original: true, confirmOverwrite: target.confirmOverwrite };
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
  if (target.kind === 'local') return `alternate location: a new VM in ${target.path}`;
  if (target.kind === 'disks') return `alternate location: the disks and an ${target.template.toUpperCase()} template in ${target.path}`;
  if (target.kind === 'azure')
    return `alternate location: Azure ${target.account}/${target.container}, the disks as page blobs with an ARM template`;
  if (target.original)
    return `original location: ${target.host}, roll the VM back in place (safety snapshot kept), transport ${target.transport}`;
  return `alternate location: a new VM on ${target.host}${target.hostSystem ? ` / ${target.hostSystem}` : ''}, datastore ${target.datastore || 'chosen by free space'}, ${target.diskFormat}, transport ${target.transport}`;
}

/** A select with its own label element, so its accessible name is just the title. */
function Select({
  title,
  value,
  onChange,
  children,
}: {
  title: string;
  value: string;
  onChange(event: ChangeEvent<HTMLSelectElement>): void;
  children: ReactNode;
}) {
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

export function TargetStep({ target, onChange }: { target: TargetChoice; onChange(target: TargetChoice): void }) {
  const hosts = useHosts();
  const accounts = useAzureAccounts();
  const inventory = useHostInventory(target.kind === 'vsphere' && target.host ? target.host : null);
  const set = (patch: Partial<TargetChoice>): void => onChange({ ...target, ...patch });
  const { datastores, networks } = hostOffer(inventory.data, target);
  const firstHost = hosts.data?.[0]?.name ?? '';
  return (
    <>
      <fieldset>
        <legend>Where to</legend>
        {!target.original && (
          <>
            <label className="choice">
              <input type="radio" name="target-kind" checked={target.kind === 'local'} onChange={() => set({ kind: 'local' })} /> A folder
              on this machine (local datastore)
            </label>
            <label className="choice">
              <input
                type="radio"
                name="target-kind"
                checked={target.kind === 'vsphere'}
                disabled={!hosts.data?.length}
                onChange={() => set({ kind: 'vsphere', host: target.host || firstHost })}
              />{' '}
              A vSphere host
              {!hosts.data?.length && (
                <span className="muted">
                  {' '}
                  (none added yet: <code>lifeboat hosts add vsphere …</code>)
                </span>
              )}
            </label>
            <label className="choice">
              <input type="radio" name="target-kind" checked={target.kind === 'disks'} onChange={() => set({ kind: 'disks' })} /> The disks
              only, with a template to create the VM from (OVF or ARM)
            </label>
            <label className="choice">
              <input
                type="radio"
                name="target-kind"
                checked={target.kind === 'azure'}
                disabled={!accounts.data?.length}
                onChange={() => set({ kind: 'azure', account: target.account || (accounts.data?.[0]?.name ?? '') })}
              />{' '}
              Azure Storage: the disks as page blobs, with an ARM template
              {!accounts.data?.length && (
                <span className="muted">
                  {' '}
                  (no account yet: <code>lifeboat azure add …</code>)
                </span>
              )}
            </label>
          </>
        )}
        {target.kind === 'local' || target.kind === 'disks' ? (
          <>
            <label>
              Target folder (new or empty, on this machine; with several VMs, each gets a folder of its name in it)
              <input
                name="target"
                value={target.path}
                onChange={(event) => set({ path: event.target.value })}
                placeholder="/srv/datastore/restored-vm"
                autoFocus
                required
              />
            </label>
            {target.kind === 'disks' && (
              <Select
                title="Template"
                value={target.template}
                onChange={(event) => set({ template: event.target.value as TargetChoice['template'] })}
              >
                <option value="ovf">OVF descriptor + VMDKs (vSphere, any hypervisor)</option>
                <option value="arm">ARM template + fixed VHDs (Azure)</option>
              </Select>
            )}
          </>
        ) : target.kind === 'azure' ? (
          <>
            <Select title="Storage account" value={target.account} onChange={(event) => set({ account: event.target.value })}>
              {accounts.data?.map((account) => (
                <option key={account.id} value={account.name}>
                  {account.name} ({account.accountName})
                </option>
              ))}
            </Select>
            <label>
              Container (lower-case letters, digits and dashes)
              <input
                name="container"
                value={target.container}
                onChange={(event) => set({ container: event.target.value })}
                placeholder="restored-disks"
              />
            </label>
          </>
        ) : (
          <>
            <Select
              title="vCenter / ESXi"
              value={target.host}
              onChange={(event) => set({ host: event.target.value, hostSystem: '', datastore: '', network: '' })}
            >
              {hosts.data?.map((host) => (
                <option key={host.id} value={host.name}>
                  {host.name}
                </option>
              ))}
            </Select>
            {!target.original && inventory.isPending && <p role="status">Reading the inventory of {target.host}…</p>}
            {!target.original && inventory.isError && <p role="alert">{inventory.error.message}</p>}
            {!target.original && inventory.data && (
              <>
                <Select
                  title="ESXi host"
                  value={target.hostSystem}
                  onChange={(event) => set({ hostSystem: event.target.value, datastore: '', network: '' })}
                >
                  <option value="">Any connected host</option>
                  {inventory.data.hostSystems
                    .filter((host) => host.connected)
                    .map((host) => (
                      <option key={host.name} value={host.name}>
                        {host.name}
                      </option>
                    ))}
                </Select>
                <Select title="Datastore" value={target.datastore} onChange={(event) => set({ datastore: event.target.value })}>
                  <option value="">The one with the most free space</option>
                  {datastores.map((ds) => (
                    <option key={ds.name} value={ds.name}>
                      {ds.name} ({ds.type}, {formatBytes(ds.freeSpace)} free)
                    </option>
                  ))}
                </Select>
                <Select title="Network" value={target.network} onChange={(event) => set({ network: event.target.value })}>
                  <option value="">Same name as in the backup, if the host has it</option>
                  {networks.map((network) => (
                    <option key={network} value={network}>
                      {network}
                    </option>
                  ))}
                </Select>
                <Select
                  title="Disk format"
                  value={target.diskFormat}
                  onChange={(event) => set({ diskFormat: event.target.value as TargetChoice['diskFormat'] })}
                >
                  <option value="thin">Thin</option>
                  <option value="thick">Thick (lazy zeroed)</option>
                </Select>
                <Select
                  title="Transport mode"
                  value={target.transport}
                  onChange={(event) => set({ transport: event.target.value as TargetChoice['transport'] })}
                >
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
    </>
  );
}
