// What Lifeboat asks of a storage array: volumes (datastores), read-only snapshots of them,
// read-write clones of a snapshot, and presenting a clone to a host over iSCSI, FC or NFS (the
// host added to the clone's allowed servers; for iSCSI the array's address in the host's static
// targets; for iSCSI and FC an HBA rescan and a VMFS resignature; for NFS an export mounted by
// address and share). A real array's driver implements the same.

export type ArrayProtocol = 'iscsi' | 'fc' | 'nfs';

export type ArrayVolume = { name: string; folder: string; createdAt: string };
export type ArraySnapshot = { id: string; volume: string; folder: string; createdAt: string };

/** Where a host sees a presented clone: the datastore it mounted, and its files as the host
 * reads them (`path`); `target` is the iSCSI portal and IQN, the FC WWN, or address:/share. */
export type Presentation = { host: string; protocol: ArrayProtocol; datastore: string; path: string; target: string };

export type ArrayClone = {
  id: string;
  snapshotId: string;
  folder: string;
  createdAt: string;
  purpose: string;
  allowedServers: string[];
  presentations: Presentation[];
};

/** `refusedHosts`: hosts outside the array's initiator groups / zones; `faults` make the next
 * rescans find nothing or resignatures fail, as a misconfigured fabric would. */
export type ArrayConfig = {
  protocol: ArrayProtocol;
  address: string;
  cloneQuota: number;
  timeScale: number;
  refusedHosts: string[];
  faults: { rescanFindsNothing?: boolean; resignatureFails?: boolean };
};

export type ArrayHost = { name: string; staticTargets: string[] };

export type ArraySummary = {
  name: string;
  serial: string;
  root: string;
  config: ArrayConfig;
  volumes: ArrayVolume[];
  snapshots: ArraySnapshot[];
  clones: ArrayClone[];
  hosts: ArrayHost[];
  /** Clones made over the array's life, for checking that restores share them as they should. */
  clonesCreated: number;
};

export interface StorageArray {
  readonly name: string;
  summary(): Promise<ArraySummary>;
  createVolume(name: string): Promise<ArrayVolume>;
  snapshot(volume: string): Promise<ArraySnapshot>;
  deleteSnapshot(id: string): Promise<void>;
  clone(snapshotId: string, purpose: string): Promise<ArrayClone>;
  deleteClone(id: string): Promise<void>;
  present(cloneId: string, host: string, log: (message: string) => void): Promise<Presentation>;
  unpresent(cloneId: string, host: string): Promise<void>;
  /** Unpresents and deletes every clone made for `purpose` (a job or a session); returns their ids. */
  removeClonesOf(purpose: string): Promise<string[]>;
}
