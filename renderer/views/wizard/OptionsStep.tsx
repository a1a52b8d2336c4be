// Step 7: power on after the restore (a new VM on vSphere: a rollback in place leaves the power state as it was) and the reason, kept in the audit log and the job's
// first event; a rollback in place needs one.
import { FormGroup, FormHelperText, HelperText, HelperTextItem, Switch, TextArea } from '@patternfly/react-core';
import type { WizardAnswers } from './answers.ts';

export const REASON_LIMIT = 500;

/** A rollback in place replaces what runs: its reason is required. */
export const reasonMissing = (answers: WizardAnswers): boolean => answers.target.original && answers.reason.trim() === '';

export function OptionsStep({
  answers,
  onChange,
  vsphere,
}: {
  answers: WizardAnswers;
  onChange(patch: Partial<WizardAnswers>): void;
  vsphere: boolean;
}) {
  const required = answers.target.original;
  return (
    <>
      {vsphere && (
        <Switch
          id="wizard-power-on"
          label="Power on after the restore"
          isChecked={answers.powerOn}
          onChange={(_event, powerOn) => onChange({ powerOn })}
        />
      )}
      <FormGroup label="Reason" fieldId="wizard-reason" isRequired={required}>
        <TextArea
          id="wizard-reason"
          name="reason"
          value={answers.reason}
          maxLength={REASON_LIMIT}
          isRequired={required}
          onChange={(_event, reason) => onChange({ reason })}
          resizeOrientation="vertical"
        />
        <FormHelperText>
          <HelperText>
            <HelperTextItem>
              Kept in the audit log and the job's first event{required ? '; required for a rollback in place' : ''}.
            </HelperTextItem>
          </HelperText>
        </FormHelperText>
      </FormGroup>
    </>
  );
}
