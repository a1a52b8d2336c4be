// The wizard's steps in order, which apply to the answers so far, and which engine check each one runs at Next.
import type { RestoreStep } from '../../../shared/domain.ts';
import type { WizardAnswers } from './answers.ts';

export type WizardStepId = 'vms' | 'mode' | 'target' | 'datastores' | 'network' | 'identity' | 'options' | 'summary';

export type WizardStepInfo = { id: WizardStepId; title: string; check: RestoreStep };

export const wizardSteps: readonly WizardStepInfo[] = [
  { id: 'vms', title: 'VMs and points', check: 'vms' },
  { id: 'mode', title: 'Restore mode', check: 'mode' },
  { id: 'target', title: 'Target', check: 'target' },
  { id: 'datastores', title: 'Datastore per disk', check: 'datastores' },
  { id: 'network', title: 'Network mapping', check: 'network' },
  { id: 'identity', title: 'Name and identity', check: 'identity' },
  // Power on and the reason have no checks of their own: the identity step's checks run again.
  { id: 'options', title: 'Power on and reason', check: 'identity' },
  { id: 'summary', title: 'Summary', check: 'summary' },
];

export function stepInfo(index: number): WizardStepInfo {
  return wizardSteps[Math.max(0, Math.min(wizardSteps.length - 1, index))] as WizardStepInfo;
}

/** A new VM is made (a folder or a vSphere host at an alternate location): it has a name and an identity. */
export function makesVm(answers: WizardAnswers): boolean {
  return !answers.target.original && (answers.target.kind === 'local' || answers.target.kind === 'vsphere');
}

/** A new VM on a vSphere host: its disks go to datastores and its NICs to networks of the host. */
export function placesOnVsphere(answers: WizardAnswers): boolean {
  return !answers.target.original && answers.target.kind === 'vsphere';
}

/** Why a step is skipped for these answers, or null when it applies. */
export function skippedBecause(step: WizardStepId, answers: WizardAnswers): string | null {
  if ((step === 'datastores' || step === 'network') && !placesOnVsphere(answers)) return 'only for a new VM on a vSphere host';
  if (step === 'identity' && !makesVm(answers)) return 'only when a new VM is made';
  return null;
}

/** The next (or previous) step that applies, from the step at `index`. */
export function stepAfter(index: number, direction: 1 | -1, answers: WizardAnswers): number {
  let next = index + direction;
  while (next > 0 && next < wizardSteps.length - 1 && skippedBecause(stepInfo(next).id, answers)) next += direction;
  return Math.max(0, Math.min(wizardSteps.length - 1, next));
}
