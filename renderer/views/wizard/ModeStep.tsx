// Step 2: original location (roll each VM back in place on its vSphere host, after reading what
// will be replaced) or alternate location (a new VM, or the disks, somewhere new).
import { useQuery } from '@tanstack/react-query';
import { Alert, Checkbox, FormGroup, FormSelect, FormSelectOption, List, ListItem, Radio, Spinner } from '@patternfly/react-core';
import { formatBytes } from '../../../shared/format.ts';
import { useApi, useHosts } from '../../api/queries.ts';
import { emptyTarget, type TargetChoice } from '../TargetStep.tsx';
import type { WizardVmChoice } from './answers.ts';

/** What rolling one VM back on `host` would replace, read from the host (restore.previewOriginal). */
function OriginalPreview({ vm, point, host }: { vm: string; point: string; host: string }) {
  const api = useApi();
  const preview = useQuery({
    queryKey: ['original-preview', vm, point, host],
    queryFn: () => api.invoke('restore.previewOriginal', { vm, point, host }),
  });
  if (preview.isPending) return <Spinner size="md" aria-label={`Looking for the VM on ${host}`} />;
  if (preview.isError) return <Alert variant="danger" isInline role="alert" title={preview.error.message} />;
  return (
    <section aria-label={`What will be replaced on ${preview.data.vmName}`}>
      <p>
        {preview.data.vmName} on {preview.data.hostSystem} ({preview.data.powerState}) will be powered off and get the safety snapshot{' '}
        <code>{preview.data.safetySnapshot}</code>, kept until you remove it. Then:
      </p>
      <List>
        {preview.data.disks.map((disk) => (
          <ListItem key={disk.key}>
            {disk.file} ({formatBytes(disk.capacity)}) is replaced by {disk.key} of the restore point
          </ListItem>
        ))}
      </List>
    </section>
  );
}

export function ModeStep({
  target,
  onChange,
  vms,
  vmNames,
}: {
  target: TargetChoice;
  onChange(target: TargetChoice): void;
  vms: WizardVmChoice[];
  vmNames: string;
}) {
  const hosts = useHosts();
  const firstHost = hosts.data?.[0]?.name ?? '';
  // A storage snapshot's clone always makes a new VM: no rollback in place.
  const fromSnapshot = vms.some((choice) => choice.snapshot !== null);
  return (
    <>
      <FormGroup role="radiogroup" isStack fieldId="wizard-mode" label="Restore mode">
        <Radio
          id="wizard-mode-alternate"
          name="location"
          isChecked={!target.original}
          onChange={() => onChange({ ...target, original: false, confirmOverwrite: false })}
          label={`Alternate location: a new VM, or the disks, somewhere new (${vmNames} left as it is)`}
        />
        <Radio
          id="wizard-mode-original"
          name="location"
          isChecked={target.original}
          isDisabled={!hosts.data?.length || fromSnapshot}
          onChange={() => onChange({ ...emptyTarget, original: true, kind: 'vsphere', host: target.host || firstHost })}
          label={`Original location: replace the disks of ${vmNames} in place on its vSphere host`}
          description={
            !hosts.data?.length
              ? 'Only for a VM on a vSphere host: none added yet (lifeboat hosts add vsphere …)'
              : fromSnapshot
                ? 'Not from a storage snapshot: it makes a new VM'
                : undefined
          }
        />
      </FormGroup>
      {target.original && (
        <>
          <FormGroup label="vCenter / ESXi" fieldId="wizard-original-host">
            <FormSelect
              id="wizard-original-host"
              value={target.host}
              onChange={(_event, host) => onChange({ ...target, host, confirmOverwrite: false })}
            >
              {hosts.data?.map((host) => (
                <FormSelectOption key={host.id} value={host.name} label={host.name} />
              ))}
            </FormSelect>
          </FormGroup>
          {vms.map((choice) => (
            <OriginalPreview key={choice.vm} vm={choice.vm} point={choice.point ?? 'latest'} host={target.host} />
          ))}
          <Checkbox
            id="wizard-confirm-overwrite"
            label="Replace these disks"
            isChecked={target.confirmOverwrite}
            onChange={(_event, confirmOverwrite) => onChange({ ...target, confirmOverwrite })}
          />
        </>
      )}
    </>
  );
}
