// The wizard's target step (the location, original or alternate, is the mode step's). An alternate
// location is a local datastore folder, a vSphere host (ESXi host, default datastore and network,
// disk format, transport), the disks alone with an OVF or ARM template to create the VM from, or
// an Azure Storage container; the original location is the VM's vSphere host.
import { useId, type ReactNode } from 'react';
import {
  Alert,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  Radio,
  Spinner,
  TextInput,
} from '@patternfly/react-core';
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

/** A select in its form group, so its accessible name is just the title. */
function Select({
  title,
  value,
  onChange,
  children,
}: {
  title: string;
  value: string;
  onChange(value: string): void;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <FormGroup label={title} fieldId={id}>
      <FormSelect id={id} value={value} onChange={(_event, chosen) => onChange(chosen)}>
        {children}
      </FormSelect>
    </FormGroup>
  );
}

/** A text input with its help line under it; `first` takes the focus and is required, as the step's main field. */
function TextField(props: {
  label: string;
  id: string;
  name: string;
  value: string;
  onChange(value: string): void;
  placeholder: string;
  help: string;
  first?: boolean;
}) {
  return (
    <FormGroup label={props.label} fieldId={props.id}>
      <TextInput
        id={props.id}
        name={props.name}
        value={props.value}
        onChange={(_event, value) => props.onChange(value)}
        placeholder={props.placeholder}
        aria-describedby={`${props.id}-help`}
        autoFocus={props.first}
        isRequired={props.first}
      />
      <FormHelperText>
        <HelperText id={`${props.id}-help`}>
          <HelperTextItem>{props.help}</HelperTextItem>
        </HelperText>
      </FormHelperText>
    </FormGroup>
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
      {!target.original && (
        <FormGroup role="radiogroup" isStack fieldId="target-kind" label="Where to">
          <Radio
            id="target-kind-local"
            name="target-kind"
            isChecked={target.kind === 'local'}
            onChange={() => set({ kind: 'local' })}
            label="A folder on this machine (local datastore)"
          />
          <Radio
            id="target-kind-vsphere"
            name="target-kind"
            isChecked={target.kind === 'vsphere'}
            isDisabled={!hosts.data?.length}
            onChange={() => set({ kind: 'vsphere', host: target.host || firstHost })}
            label="A vSphere host"
            description={
              !hosts.data?.length && (
                <>
                  None added yet: <code>lifeboat hosts add vsphere …</code>
                </>
              )
            }
          />
          <Radio
            id="target-kind-disks"
            name="target-kind"
            isChecked={target.kind === 'disks'}
            onChange={() => set({ kind: 'disks' })}
            label="The disks only, with a template to create the VM from (OVF or ARM)"
          />
          <Radio
            id="target-kind-azure"
            name="target-kind"
            isChecked={target.kind === 'azure'}
            isDisabled={!accounts.data?.length}
            onChange={() => set({ kind: 'azure', account: target.account || (accounts.data?.[0]?.name ?? '') })}
            label="Azure Storage: the disks as page blobs, with an ARM template"
            description={
              !accounts.data?.length && (
                <>
                  No account yet: <code>lifeboat azure add …</code>
                </>
              )
            }
          />
        </FormGroup>
      )}
      {target.kind === 'local' || target.kind === 'disks' ? (
        <>
          <TextField
            label="Target folder"
            id="target-path"
            name="target"
            value={target.path}
            onChange={(path) => set({ path })}
            placeholder="/srv/datastore/restored-vm"
            help="New or empty, on this machine; with several VMs, each gets a folder of its name in it."
            first
          />
          {target.kind === 'disks' && (
            <Select
              title="Template"
              value={target.template}
              onChange={(template) => set({ template: template as TargetChoice['template'] })}
            >
              <FormSelectOption value="ovf" label="OVF descriptor + VMDKs (vSphere, any hypervisor)" />
              <FormSelectOption value="arm" label="ARM template + fixed VHDs (Azure)" />
            </Select>
          )}
        </>
      ) : target.kind === 'azure' ? (
        <>
          <Select title="Storage account" value={target.account} onChange={(account) => set({ account })}>
            {accounts.data?.map((account) => (
              <FormSelectOption key={account.id} value={account.name} label={`${account.name} (${account.accountName})`} />
            ))}
          </Select>
          <TextField
            label="Container"
            id="target-container"
            name="container"
            value={target.container}
            onChange={(container) => set({ container })}
            placeholder="restored-disks"
            help="Lower-case letters, digits and dashes."
          />
        </>
      ) : (
        <>
          <Select title="vCenter / ESXi" value={target.host} onChange={(host) => set({ host, hostSystem: '', datastore: '', network: '' })}>
            {hosts.data?.map((host) => (
              <FormSelectOption key={host.id} value={host.name} label={host.name} />
            ))}
          </Select>
          {!target.original && inventory.isPending && <Spinner size="md" aria-label={`Reading the inventory of ${target.host}`} />}
          {!target.original && inventory.isError && <Alert variant="danger" isInline role="alert" title={inventory.error.message} />}
          {!target.original && inventory.data && (
            <>
              <Select
                title="ESXi host"
                value={target.hostSystem}
                onChange={(hostSystem) => set({ hostSystem, datastore: '', network: '' })}
              >
                <FormSelectOption value="" label="Any connected host" />
                {inventory.data.hostSystems
                  .filter((host) => host.connected)
                  .map((host) => (
                    <FormSelectOption key={host.name} value={host.name} label={host.name} />
                  ))}
              </Select>
              <Select title="Datastore" value={target.datastore} onChange={(datastore) => set({ datastore })}>
                <FormSelectOption value="" label="The one with the most free space" />
                {datastores.map((ds) => (
                  <FormSelectOption key={ds.name} value={ds.name} label={`${ds.name} (${ds.type}, ${formatBytes(ds.freeSpace)} free)`} />
                ))}
              </Select>
              <Select title="Network" value={target.network} onChange={(network) => set({ network })}>
                <FormSelectOption value="" label="Same name as in the backup, if the host has it" />
                {networks.map((network) => (
                  <FormSelectOption key={network} value={network} label={network} />
                ))}
              </Select>
              <Select
                title="Disk format"
                value={target.diskFormat}
                onChange={(diskFormat) => set({ diskFormat: diskFormat as TargetChoice['diskFormat'] })}
              >
                <FormSelectOption value="thin" label="Thin" />
                <FormSelectOption value="thick" label="Thick (lazy zeroed)" />
              </Select>
              <Select
                title="Transport mode"
                value={target.transport}
                onChange={(transport) => set({ transport: transport as TargetChoice['transport'] })}
              >
                <FormSelectOption value="auto" label="Automatic" />
                <FormSelectOption value="nbd" label="Network (NBD)" />
                <FormSelectOption value="hotadd" label="Virtual appliance (HotAdd) — needs a proxy" />
                <FormSelectOption value="san" label="Direct SAN — needs a proxy" />
              </Select>
            </>
          )}
        </>
      )}
    </>
  );
}
