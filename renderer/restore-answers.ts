// What the restore wizard's operator answered, as one value: the store keeps it (an inventory
// row's "Restore…", Edit and retry) and the wizard's views fill it. Here, not in views/, so the
// store needs nothing of the views.

export type TargetChoice = {
  /** local, vsphere: a VM; disks: the disks and a template in a folder; azure: page blobs. */
  kind: 'local' | 'vsphere' | 'disks' | 'azure';
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
  template: 'ovf' | 'arm';
  account: string;
  container: string;
};

export const emptyTarget: TargetChoice = {
  kind: 'local',
  path: '',
  host: '',
  hostSystem: '',
  datastore: '',
  network: '',
  diskFormat: 'thin',
  transport: 'auto',
  original: false,
  confirmOverwrite: false,
  template: 'ovf',
  account: '',
  container: '',
};

/** One VM of the restore: its point (a backup point id, or null for the latest) or a storage snapshot. */
export type WizardVmChoice = { vm: string; point: string | null; snapshot: string | null; newName: string };

export type WizardAnswers = {
  vms: WizardVmChoice[];
  target: TargetChoice;
  /** vSphere only: disk key → datastore; a disk left out goes where the target's datastore says. */
  diskDatastores: Record<string, string>;
  /** vSphere only: source network → target network. */
  networkMap: Record<string, string>;
  identity: 'new' | 'keep';
  powerOn: boolean;
  reason: string;
  /** Where to read (a region); secrets are never part of the answers. */
  fromRegion: string;
};

export const emptyAnswers: WizardAnswers = {
  vms: [],
  target: emptyTarget,
  diskDatastores: {},
  networkMap: {},
  identity: 'new',
  powerOn: false,
  reason: '',
  fromRegion: '',
};

/** The answers that start the wizard for some VMs (the inventory's "Restore…"). */
export function answersForVms(vmIds: string[]): WizardAnswers {
  return { ...emptyAnswers, vms: vmIds.map((vm) => ({ vm, point: null, snapshot: null, newName: '' })) };
}
