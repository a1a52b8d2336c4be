// A VM's disks scanned together, once, when a point is browsed: partition tables, then what each
// partition is (an LVM2 physical volume, a layer we name but do not read, a file system), the
// volume groups assembled from the physical volumes of all the disks, and what each logical
// volume holds. Multi-device file systems are grouped across all volumes before single-device
// ones are tried. Damage met while probing a volume becomes that volume's problem.
import type { Disk } from '../disks/disk.ts';
import { DiskSlice, isReadFailure, type FileSystem } from '../filesystems/file-system.ts';
import { probeLayer } from '../filesystems/layers.ts';
import { probePhysicalVolume } from '../filesystems/lvm/probe.ts';
import { assembleVolumeGroups, type FoundPv } from '../filesystems/lvm/volume-groups.ts';
import { readPartitionTable } from '../filesystems/partitions.ts';
import { singleDeviceOpeners, type MultiDeviceOpener } from './volume-openers.ts';

/** A partition or a logical volume. `problem`: why its content cannot be read (an index gap).
 * `what`: what it is when it holds nothing to read of its own. */
export type Volume = {
  path: string;
  name: string;
  size: number;
  disk: Disk | null;
  partitionType: string | null;
  fileSystem: FileSystem | null;
  problem: string | null;
  what: string | null;
};
export type DiskView = { name: string; disk: Disk; volumes: Volume[]; problem: string | null };
export type GroupView = { name: string; size: number; pvCount: number; notes: string[]; volumes: Volume[] };

const undecided = (volume: Volume): boolean => volume.disk !== null && !volume.fileSystem && !volume.problem && !volume.what;

/** Runs a probe on a volume; damage met while probing becomes the volume's problem. */
async function guarded(volume: Volume, probe: (disk: Disk) => Promise<void>): Promise<void> {
  if (!volume.disk) return;
  try {
    await probe(volume.disk);
  } catch (error) {
    if (!isReadFailure(error)) throw error;
    volume.problem = error.message;
  }
}

/** Each volume's probe, all at once (on a backup each may wait for its blocks to be fetched and
 * decoded); what they found in volume order. */
async function probeEach<T>(volumes: Volume[], probe: (volume: Volume, disk: Disk) => Promise<T | null>): Promise<[Volume, T][]> {
  const found = await Promise.all(
    volumes.map(async (volume) => {
      let result: T | null = null;
      await guarded(volume, async (disk) => void (result = await probe(volume, disk)));
      return result === null ? null : ([volume, result] as [Volume, T]);
    }),
  );
  return found.filter((pair) => pair !== null);
}

async function findPhysicalVolumes(volumes: Volume[]): Promise<Map<Volume, FoundPv>> {
  return new Map(await probeEach(volumes, (volume, disk) => probePhysicalVolume(disk, volume.path)));
}

async function nameLayers(volumes: Volume[]): Promise<void> {
  for (const [volume, layer] of await probeEach(volumes.filter(undecided), (volume, disk) => probeLayer(disk, volume.partitionType))) {
    if (layer.gap) volume.problem = layer.gap;
    else volume.what = layer.what;
  }
}

/** Members of multi-device file systems, grouped by fsid; each opened once at its first member. */
async function openMultiDevice(volumes: Volume[], openers: MultiDeviceOpener[]): Promise<void> {
  for (const opener of openers) {
    const groups = new Map<string, { volume: Volume; deviceId: number }[]>();
    for (const [volume, member] of await probeEach(volumes.filter(undecided), (_, disk) => opener.probe(disk))) {
      const group = groups.get(member.fsid) ?? [];
      group.push({ volume, deviceId: member.deviceId });
      groups.set(member.fsid, group);
    }
    for (const [fsid, members] of groups) {
      const [first, ...others] = members;
      if (!first) continue;
      for (const other of others) other.volume.what = `${opener.kind} device ${other.deviceId} of ${fsid}, read at ${first.volume.path}`;
      await guarded(first.volume, async () => {
        first.volume.fileSystem = await opener.open(members.map((member) => member.volume.disk as Disk));
      });
      if (first.volume.problem) first.volume.problem = `${opener.kind} file system ${fsid}: ${first.volume.problem}`;
    }
  }
}

/** Every volume at once; each tries the openers in order. */
async function openSingleDevice(volumes: Volume[]): Promise<void> {
  await Promise.all(volumes.filter(undecided).map((volume) => openAsSingleDevice(volume)));
}

async function openAsSingleDevice(volume: Volume): Promise<void> {
  const failures: string[] = [];
  for (const opener of singleDeviceOpeners) {
    try {
      volume.fileSystem = await opener.open(volume.disk as Disk);
      return;
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  volume.problem = `unknown or damaged file system: ${failures.join('; ')}`;
}

/** Physical volumes found among the partitions, assembled into volume groups; each PV is then
 * listed as what it is, and each visible logical volume becomes a volume of its group. */
async function assembleLvm(partitions: Volume[]): Promise<GroupView[]> {
  const found = await findPhysicalVolumes(partitions);
  const groups = assembleVolumeGroups([...found.values()]);
  for (const [volume, pv] of found) {
    const group = groups.find((candidate) => candidate.pvPaths.includes(pv.path));
    volume.what = group
      ? `LVM2 physical volume of volume group ${group.name}, read at /lvm/${group.name}`
      : 'LVM2 physical volume without a volume group';
  }
  return groups.map((group) => ({
    name: group.name,
    size: group.size,
    pvCount: group.pvPaths.length,
    notes: group.notes,
    volumes: group.lvs.map((lv): Volume => ({
      path: `/lvm/${group.name}/${lv.name}`,
      name: lv.name,
      size: lv.size,
      disk: lv.disk,
      partitionType: null,
      fileSystem: null,
      problem: lv.problem,
      what: lv.nothingToRead ? lv.layout : null,
    })),
  }));
}

/** The VM's disks (in disk order) and volume groups, every volume decided: a file system, what it
 * is, or why it cannot be read. */
export async function scanVolumes(disks: Disk[], openers: MultiDeviceOpener[]): Promise<{ disks: DiskView[]; groups: GroupView[] }> {
  const views: DiskView[] = [];
  for (const [index, disk] of disks.entries()) {
    const name = `disk${index}`;
    let table;
    try {
      table = await readPartitionTable(disk);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      views.push({ name, disk, volumes: [], problem: `its partition table could not be read: ${error.message}` });
      continue;
    }
    const slices =
      table.partitions.length > 0
        ? table.partitions.map((part) => ({ name: `part${part.index}`, start: part.start, size: part.size, type: part.type }))
        : [{ name: 'part0', start: 0, size: disk.capacity, type: null }];
    const volumes = slices.map((slice): Volume => ({
      path: `/${name}/${slice.name}`,
      name: slice.name,
      size: slice.size,
      disk: new DiskSlice(disk, slice.start, slice.size, `${disk.description} ${slice.name}`),
      partitionType: slice.type,
      fileSystem: null,
      problem: null,
      what: null,
    }));
    views.push({ name, disk, volumes, problem: null });
  }
  const partitions = views.flatMap((view) => view.volumes);
  const groups = await assembleLvm(partitions);
  const all = [...partitions, ...groups.flatMap((group) => group.volumes)];
  await nameLayers(all);
  await openMultiDevice(all, openers);
  await openSingleDevice(all);
  return { disks: views, groups };
}
