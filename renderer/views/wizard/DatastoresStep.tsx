// Step 4 (vSphere only): a datastore per disk, with each datastore's free space. A disk key (scsi0:0)
// maps to one datastore for every VM that has it: the target carries one map for the whole restore.
import { FormGroup, FormSelect, FormSelectOption, HelperText, HelperTextItem, Spinner } from '@patternfly/react-core';
import type { RestorePlanVm } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { useHostInventory } from '../../api/queries.ts';
import type { TargetChoice } from '../TargetStep.tsx';
import { hostOffer } from './placement.ts';

export function DatastoresStep({
  target,
  plan,
  diskDatastores,
  onChange,
}: {
  target: TargetChoice;
  plan: RestorePlanVm[];
  diskDatastores: Record<string, string>;
  onChange(diskDatastores: Record<string, string>): void;
}) {
  const inventory = useHostInventory(target.host || null);
  if (inventory.isPending) return <Spinner size="md" aria-label={`Reading the datastores of ${target.host}`} />;
  const { datastores } = hostOffer(inventory.data, target);
  const keys = [...new Set(plan.flatMap((vm) => vm.disks.map((disk) => disk.key)))];
  const set = (key: string, datastore: string): void => {
    const { [key]: _dropped, ...rest } = diskDatastores;
    onChange(datastore ? { ...rest, [key]: datastore } : rest);
  };
  const fallback = target.datastore || 'the one with the most free space';
  return (
    <>
      {keys.map((key) => {
        const disks = plan.flatMap((vm) => vm.disks.filter((disk) => disk.key === key).map((disk) => ({ vm: vm.vmName, disk })));
        const needed = disks.reduce((sum, { disk }) => sum + disk.capacity, 0);
        const id = `wizard-datastore-${key.replace(/[^A-Za-z0-9]/g, '-')}`;
        return (
          <FormGroup key={key} label={`Datastore for disk ${key}`} fieldId={id}>
            <FormSelect id={id} value={diskDatastores[key] ?? ''} onChange={(_event, value) => set(key, value)}>
              <FormSelectOption value="" label={`Default: ${fallback}`} />
              {datastores.map((ds) => (
                <FormSelectOption key={ds.name} value={ds.name} label={`${ds.name} (${ds.type}, ${formatBytes(ds.freeSpace)} free)`} />
              ))}
            </FormSelect>
            <HelperText>
              <HelperTextItem>
                {disks.map(({ vm, disk }) => `${vm}: ${disk.label}, ${formatBytes(disk.capacity)}`).join('; ')} — {formatBytes(needed)} in
                all
              </HelperTextItem>
            </HelperText>
          </FormGroup>
        );
      })}
    </>
  );
}
