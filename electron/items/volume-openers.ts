// The file systems a volume may hold, tried in order. Single-device ones open on one volume;
// a multi-device kind (btrfs) is probed on every volume of the VM first, its members grouped
// by file system id and opened once, at the first member in disk order.
import type { Disk } from '../disks/disk.ts';
import { ExtFileSystem } from '../filesystems/ext4.ts';
import { FatFileSystem } from '../filesystems/fat.ts';
import type { FileSystem } from '../filesystems/file-system.ts';
import { NtfsFileSystem } from '../filesystems/ntfs.ts';
import { XfsFileSystem } from '../filesystems/xfs/xfs.ts';
import { BtrfsFileSystem, probeBtrfs } from '../filesystems/btrfs/btrfs.ts';

export type SingleDeviceOpener = { kind: string; open(disk: Disk): Promise<FileSystem> };

/** A member of a multi-device file system: which one (fsid), which device of it, of how many. */
export type MemberProbe = { fsid: string; deviceId: number; devices: number };
export type MultiDeviceOpener = {
  kind: string;
  /** Null when the volume is not a member of this kind. */
  probe(disk: Disk): Promise<MemberProbe | null>;
  open(members: Disk[]): Promise<FileSystem>;
};

export const singleDeviceOpeners: SingleDeviceOpener[] = [
  { kind: 'ext4', open: (disk) => ExtFileSystem.open(disk) },
  { kind: 'ntfs', open: (disk) => NtfsFileSystem.open(disk) },
  { kind: 'xfs', open: (disk) => XfsFileSystem.open(disk) },
  { kind: 'fat', open: (disk) => FatFileSystem.open(disk) },
];

export const multiDeviceOpeners: MultiDeviceOpener[] = [
  { kind: 'btrfs', probe: probeBtrfs, open: (members) => BtrfsFileSystem.open(members) },
];
