// What the operator answered in the restore wizard, kept in one value so a failed job's request
// can be turned back into answers ("Edit and retry") and the wizard reopened on its summary.
import type { Job } from '../../../shared/domain.ts';
import { emptyTarget, type TargetChoice, type WizardAnswers, type WizardVmChoice } from '../../restore-answers.ts';

// The binding name of the answers for the views (the store keeps them in renderer/restore-answers.ts).
export type { WizardAnswers, WizardVmChoice } from '../../restore-answers.ts';

type StoredTarget = {
  kind?: string;
  path?: string;
  host?: string;
  hostSystem?: string;
  datastore?: string;
  network?: string;
  diskFormat?: 'thin' | 'thick';
  transport?: TargetChoice['transport'];
  original?: boolean;
  diskDatastores?: Record<string, string>;
  networkMap?: Record<string, string>;
  identity?: 'new' | 'keep';
  powerOn?: boolean;
};

/** The stored request of a restore job, as far as the wizard reads it (see the restore.* channels). */
type StoredRestore = {
  vm?: string;
  vms?: string[];
  point?: string;
  pointId?: string;
  snapshot?: string;
  target?: StoredTarget;
  newName?: string;
  template?: 'ovf' | 'arm';
  account?: string;
  container?: string;
  fromRegion?: string;
  reason?: string;
};

const restoreKinds: Job['kind'][] = ['restore-entire-vm', 'restore-disks', 'restore-azure', 'restore-from-snapshot'];

/** Whether the wizard can take this job's request back (a restore it starts itself). */
export function retryable(job: Job): boolean {
  return restoreKinds.includes(job.kind);
}

function targetOf(kind: Job['kind'], stored: StoredRestore): TargetChoice {
  const target = stored.target ?? {};
  if (kind === 'restore-azure') return { ...emptyTarget, kind: 'azure', account: stored.account ?? '', container: stored.container ?? '' };
  if (kind === 'restore-disks') return { ...emptyTarget, kind: 'disks', path: target.path ?? '', template: stored.template ?? 'ovf' };
  if (target.kind !== 'vsphere') return { ...emptyTarget, kind: 'local', path: target.path ?? '' };
  return {
    ...emptyTarget,
    kind: 'vsphere',
    host: target.host ?? '',
    hostSystem: target.hostSystem ?? '',
    datastore: target.datastore ?? '',
    network: target.network ?? '',
    diskFormat: target.diskFormat ?? 'thin',
    transport: target.transport ?? 'auto',
    original: target.original ?? false,
  };
}

/** A failed restore job's answers, from its stored request (jobs.get params). A storage-snapshot
 * restore names its VMs; `vmIdOf` maps a name to the inventory's id. Null if the job is not one
 * the wizard starts or its request is not readable. */
export function answersFromJob(job: Job, params: unknown, vmIdOf: (name: string) => string | undefined): WizardAnswers | null {
  if (!retryable(job) || params === null || typeof params !== 'object') return null;
  const stored = params as StoredRestore;
  const target = stored.target ?? {};
  const newName = stored.newName ?? '';
  const vms: WizardVmChoice[] =
    job.kind === 'restore-from-snapshot'
      ? (stored.vms ?? []).map((name) => ({
          vm: vmIdOf(name) ?? job.vmId ?? name,
          point: null,
          snapshot: stored.snapshot ?? null,
          newName,
        }))
      : [{ vm: job.vmId ?? stored.vm ?? '', point: stored.pointId ?? stored.point ?? null, snapshot: null, newName }];
  return {
    vms,
    target: targetOf(job.kind, stored),
    diskDatastores: target.diskDatastores ?? {},
    networkMap: target.networkMap ?? {},
    identity: target.identity ?? 'new',
    powerOn: target.powerOn ?? false,
    reason: stored.reason ?? '',
    fromRegion: stored.fromRegion ?? '',
  };
}
