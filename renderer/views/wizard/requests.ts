// The engine requests the wizard's answers make: the per-step check and one restore per VM.
import type { LifeboatApi, RequestOf } from '../../../shared/contract.ts';
import type { RestorePlanVm, RestoreStep } from '../../../shared/domain.ts';
import { escapeGuestName } from '../../../shared/guest-names.ts';
import { targetComplete, targetRequest } from '../TargetStep.tsx';
import { sourceRequest, type SourceChoice } from '../SourceFields.tsx';
import type { WizardAnswers, WizardVmChoice } from './answers.ts';
import { makesVm, placesOnVsphere } from './steps.ts';

type EntireVmTarget = RequestOf<'restore.entireVm'>['target'];

const nonEmpty = <T extends object>(field: string, value: T): Record<string, T> => (Object.keys(value).length ? { [field]: value } : {});

/** The target with the options of the later steps: datastores, networks, identity, power on (vSphere). */
export function fullTarget(answers: WizardAnswers): EntireVmTarget {
  const target = targetRequest(answers.target);
  if (target.kind !== 'vsphere') return target;
  // A rollback in place leaves the VM's power state as it was: power on is for a new VM.
  if (!placesOnVsphere(answers)) return target;
  return {
    ...target,
    ...nonEmpty('diskDatastores', answers.diskDatastores),
    ...nonEmpty('networkMap', answers.networkMap),
    identity: answers.identity,
    powerOn: answers.powerOn,
  };
}

/** With several VMs a folder target is their parent: each VM goes to a folder of its restored name in it. */
function folderOf(answers: WizardAnswers, choice: WizardVmChoice, vmName: string): string {
  const path = answers.target.path.trim();
  if (answers.vms.length < 2) return path;
  // The layout restore.check checks (localFolderOf): the restored name, escaped as guest names are.
  return `${path.replace(/\/+$/, '')}/${escapeGuestName(choice.newName.trim() || vmName).name}`;
}

/** The map entries whose keys are in `keys`: the wizard's maps name the disks and networks of every VM. */
function ownEntries(field: string, map: Record<string, string> | undefined, keys: string[]): Record<string, Record<string, string>> {
  return nonEmpty(field, Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => keys.includes(key))));
}

/** One VM's target: fullTarget, with its own folder when several VMs share a folder target, and on
 * vSphere only the datastore and network entries of its own disks and NICs (its plan lists them). */
function targetOf(answers: WizardAnswers, choice: WizardVmChoice, vmName: string, plan: RestorePlanVm | undefined): EntireVmTarget {
  const target = fullTarget(answers);
  if (target.kind === 'local') return { kind: 'local', path: folderOf(answers, choice, vmName) };
  if (!plan) return target;
  const { diskDatastores, networkMap, ...rest } = target;
  return {
    ...rest,
    ...ownEntries(
      'diskDatastores',
      diskDatastores,
      plan.disks.map((disk) => disk.key),
    ),
    ...ownEntries(
      'networkMap',
      networkMap,
      plan.networks.map((network) => network.source),
    ),
  };
}

function newNameOf(answers: WizardAnswers, choice: WizardVmChoice): { newName?: string } {
  const name = choice.newName.trim();
  return name && makesVm(answers) ? { newName: name } : {};
}

const reasonOf = (answers: WizardAnswers): { reason?: string } => (answers.reason.trim() ? { reason: answers.reason.trim() } : {});

export function checkRequest(answers: WizardAnswers, step: RestoreStep, source: SourceChoice): RequestOf<'restore.check'> {
  const target = answers.target.kind === 'local' || answers.target.kind === 'vsphere' ? answers.target : null;
  const chosen = target !== null && targetComplete(target);
  return {
    // Until a target is chosen (the mode step of an alternate location) only the VMs can be checked.
    step: chosen || step === 'vms' ? step : 'vms',
    // A VM restored from a storage snapshot is checked with its latest backup point: the target's checks are the same.
    vms: answers.vms.map((choice) => ({ vm: choice.vm, point: choice.point ?? 'latest', ...newNameOf(answers, choice) })),
    ...(chosen ? { target: fullTarget(answers) } : {}),
    ...reasonOf(answers),
    ...sourceRequest(source),
  };
}

/** Starts the restore of one VM as today's channels do; returns the new job's id. */
export async function startOne(
  api: LifeboatApi,
  answers: WizardAnswers,
  choice: WizardVmChoice,
  vmName: string,
  source: SourceChoice,
  plan?: RestorePlanVm,
): Promise<string> {
  const point = choice.point ?? 'latest';
  const from = sourceRequest(source);
  const reason = reasonOf(answers);
  const { target } = answers;
  if (choice.snapshot)
    return (
      await api.invoke('restore.fromSnapshot', {
        vms: [vmName],
        snapshot: choice.snapshot,
        target: targetOf(answers, choice, vmName, plan),
        ...newNameOf(answers, choice),
        ...reason,
      })
    ).job.id;
  if (target.kind === 'disks')
    return (
      await api.invoke('restore.disks', {
        vm: choice.vm,
        point,
        target: { kind: 'local', path: folderOf(answers, choice, vmName) },
        template: target.template,
        ...reason,
        ...from,
      })
    ).job.id;
  if (target.kind === 'azure')
    return (
      await api.invoke('restore.azure', { vm: choice.vm, point, account: target.account, container: target.container, ...reason, ...from })
    ).job.id;
  return (
    await api.invoke('restore.entireVm', {
      vm: choice.vm,
      point,
      target: targetOf(answers, choice, vmName, plan),
      ...newNameOf(answers, choice),
      ...reason,
      ...from,
    })
  ).job.id;
}
