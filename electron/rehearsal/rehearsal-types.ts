// What a rehearsal and its report both speak of: where the VMs go, which VMs from which points,
// and how each one ended. Its own file so the report does not import the job that writes it.
export type RehearsalTarget =
  { kind: 'local'; path: string } | { kind: 'vsphere'; host: string; datastore?: string | undefined; network?: string | undefined };
export type RehearsalVm = { vmId: string; vmName: string; pointId: string; pointSequence: number };
export type VmOutcome = {
  vm: string;
  point: number;
  restoredAs: string;
  state: 'passed' | 'failed';
  check: string;
  rtoSeconds: number | null;
  error: string | null;
};
