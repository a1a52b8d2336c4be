// Step 6 (a new VM only): the name of each restored VM and, on vSphere, its identity: a fresh BIOS
// UUID and MAC addresses (a copy that runs beside the original) or the backup's own.
import { FormGroup, Radio, TextInput } from '@patternfly/react-core';
import type { WizardAnswers, WizardVmChoice } from './answers.ts';

export function IdentityStep({
  answers,
  vmNameOf,
  onChange,
  vsphere,
}: {
  answers: WizardAnswers;
  vmNameOf(vm: string): string;
  onChange(patch: Partial<WizardAnswers>): void;
  vsphere: boolean;
}) {
  const rename = (next: WizardVmChoice): void => onChange({ vms: answers.vms.map((choice) => (choice.vm === next.vm ? next : choice)) });
  return (
    <>
      {answers.vms.map((choice, index) => {
        const name = vmNameOf(choice.vm);
        const id = `wizard-new-name-${index}`;
        return (
          <FormGroup key={choice.vm} label={`New VM name for ${name} (optional; keeps the original name if empty)`} fieldId={id}>
            <TextInput
              id={id}
              name="newName"
              value={choice.newName}
              placeholder={name}
              onChange={(_event, newName) => rename({ ...choice, newName })}
            />
          </FormGroup>
        );
      })}
      {vsphere && (
        <FormGroup role="radiogroup" isStack fieldId="wizard-identity" label="Identity">
          <Radio
            id="wizard-identity-keep"
            name="identity"
            isChecked={answers.identity === 'keep'}
            onChange={() => onChange({ identity: 'keep' })}
            label="Keep the BIOS UUID and MAC addresses of the backup (the restored VM replaces the original)"
          />
          <Radio
            id="wizard-identity-new"
            name="identity"
            isChecked={answers.identity === 'new'}
            onChange={() => onChange({ identity: 'new' })}
            label="New BIOS UUID and MAC addresses (the restored VM runs beside the original)"
          />
        </FormGroup>
      )}
    </>
  );
}
