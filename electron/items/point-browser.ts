// Browsing a restore point (or a VM's disks on a storage clone) without restoring it. The VM's
// disks are scanned together: partition tables, then what each partition is (an LVM2 physical
// volume, a layer we name but do not read, a file system), then the volume groups assembled from
// the physical volumes of all the disks, then what each logical volume holds. Paths:
//
//   /disk0/part1/etc/hostname     a partition's files (part0: a disk without a partition table)
//   /lvm/<vg>/<lv>/etc/hostname   a logical volume's files
//
// A disk whose partition table cannot be read, or a volume whose content is unknown or damaged,
// is listed with the reason (a gap); a volume that holds nothing to read (swap, MSR, a physical
// volume shown under /lvm) is listed by what it is; the others stay readable.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { splitPath, type FileRegion, type FileSystem, type FsEntry, type VolumeNote } from '../filesystems/file-system.ts';
import { resolvePoint } from '../repository/chain.ts';
import { PointDisk, type PointDiskOptions } from '../repository/point-disk.ts';
import type { Repository } from '../repository/repository.ts';
import { isInsideVolume, splitVolumePath } from '../../shared/item-paths.ts';
import { scanVolumes, type DiskView, type GroupView, type Volume } from './scan-volumes.ts';
import { multiDeviceOpeners, type MultiDeviceOpener } from './volume-openers.ts';

export type { Volume };

type Located =
  | { at: 'root' }
  | { at: 'disk'; view: DiskView }
  | { at: 'lvm' }
  | { at: 'group'; group: GroupView }
  | { at: 'volume'; volume: Volume; inner: string };

/** A volume as an entry of its disk or volume group: its file system (with what it says about
 * itself), what it is, or why it cannot be read. */
function describeVolume(volume: Volume): FsEntry {
  const base = { name: volume.name, size: volume.size, mtime: null, mode: null };
  const fileSystem = volume.fileSystem;
  if (volume.what !== null) return { ...base, type: 'other', target: volume.what };
  if (!fileSystem) return { ...base, type: 'other', target: volume.problem ?? '', problem: volume.problem ?? '' };
  const notes = fileSystem.notes.map((note) => note.text);
  return {
    ...base,
    type: 'dir',
    target: `${fileSystem.kind}${fileSystem.label ? ` "${fileSystem.label}"` : ''}`,
    ...(notes.length > 0 ? { notes } : {}),
  };
}

export class PointBrowser {
  private readonly disks: DiskView[];
  private readonly groups: GroupView[];

  private constructor(disks: DiskView[], groups: GroupView[]) {
    this.disks = disks;
    this.groups = groups;
  }

  /** `disks`: how the point's disks decode and keep their blocks (default: each its own small cache, decoded here). */
  static async open(repository: Repository, vmId: string, pointId: string, disks: PointDiskOptions = {}): Promise<PointBrowser> {
    const point = await resolvePoint(repository, vmId, pointId);
    return PointBrowser.fromDisks(point.disks.map((resolved) => new PointDisk(point, resolved.key, disks)));
  }

  /** Any disks, a VM's in disk order (a point's, or the files of a VM on a storage clone). */
  static async fromDisks(disks: Disk[], openers: MultiDeviceOpener[] = multiDeviceOpeners): Promise<PointBrowser> {
    const scanned = await scanVolumes(disks, openers);
    return new PointBrowser(scanned.disks, scanned.groups);
  }

  private locate(path: string): Located {
    const parts = splitPath(path);
    const [top, second] = parts;
    if (top === undefined) return { at: 'root' };
    if (top === 'lvm') {
      if (second === undefined) return { at: 'lvm' };
      const group = this.groups.find((candidate) => candidate.name === second);
      if (!group) throw new LifeboatError('not-found', `${path}: no volume group ${second}`);
      const split = splitVolumePath(path);
      if (!split) return { at: 'group', group };
      const volume = group.volumes.find((candidate) => candidate.path === split.volume);
      if (!volume) throw new LifeboatError('not-found', `${path}: no logical volume ${parts[2]} in ${second}`);
      return { at: 'volume', volume, inner: split.inner };
    }
    const view = this.disks.find((candidate) => candidate.name === top);
    if (!view) throw new LifeboatError('not-found', `${path}: no disk ${top}`);
    const split = splitVolumePath(path);
    if (!split) return { at: 'disk', view };
    const volume = view.volumes.find((candidate) => candidate.path === split.volume);
    // A disk whose partition table could not be read has no partitions to find: say why.
    if (!volume && view.problem) throw new LifeboatError('corrupt-backup', `${path}: ${top} ${view.problem}`);
    if (!volume) throw new LifeboatError('not-found', `${path}: no partition ${second}`);
    return { at: 'volume', volume, inner: split.inner };
  }

  private fileSystemOf(volume: Volume, path: string): FileSystem {
    if (volume.fileSystem) return volume.fileSystem;
    if (volume.what !== null) throw new LifeboatError('unavailable', `${path}: ${volume.what}; no files to read`);
    throw new LifeboatError('unavailable', `${path}: ${volume.problem}`);
  }

  private volumeAt(path: string): { volume: Volume; inner: string } {
    const located = this.locate(path);
    if (located.at !== 'volume') throw new LifeboatError('bad-request', `${path} is not inside a volume (/diskN/partM or /lvm/<vg>/<lv>)`);
    return located;
  }

  /** True when a path names something inside a volume (a file or folder), not a volume or above. */
  isInsideVolume(path: string): boolean {
    return isInsideVolume(path);
  }

  /** Every volume that holds files or cannot be read, /diskN/partM and /lvm/<vg>/<lv>, with what
   * keeps it from being read, or what its file system says about itself; a disk without a
   * readable partition table is one entry, /diskN. Volumes with nothing to read (swap, MSR, a
   * physical volume) are not among them: they are no gap. */
  volumes(): { path: string; problem: string | null; notes: readonly VolumeNote[] }[] {
    const describe = (volume: Volume) => ({
      path: volume.path,
      problem: volume.fileSystem ? null : (volume.problem ?? 'unreadable'),
      notes: volume.fileSystem?.notes ?? [],
    });
    const listed = (volume: Volume): boolean => volume.what === null;
    return [
      ...this.disks.flatMap((view) =>
        view.problem ? [{ path: `/${view.name}`, problem: view.problem, notes: [] }] : view.volumes.filter(listed).map(describe),
      ),
      ...this.groups.flatMap((group) => group.volumes.filter(listed).map(describe)),
    ];
  }

  /** The file system of a volume path (/diskN/partM or /lvm/<vg>/<lv>). */
  fileSystemFor(path: string): FileSystem {
    const located = this.locate(path);
    if (located.at !== 'volume') throw new LifeboatError('bad-request', `${path} is not a volume`);
    return this.fileSystemOf(located.volume, path);
  }

  async list(path: string): Promise<FsEntry[]> {
    const located = this.locate(path);
    switch (located.at) {
      case 'root':
        return [
          ...this.disks.map((disk): FsEntry => ({
            name: disk.name,
            type: disk.problem ? 'other' : 'dir',
            size: disk.disk.capacity,
            mtime: null,
            mode: null,
            ...(disk.problem ? { target: disk.problem, problem: disk.problem } : {}),
          })),
          ...(this.groups.length > 0
            ? [{ name: 'lvm', type: 'dir' as const, size: 0, mtime: null, mode: null, target: 'LVM2 volume groups' }]
            : []),
        ];
      case 'disk':
        if (located.view.problem) throw new LifeboatError('unavailable', `${path}: ${located.view.problem}`);
        return located.view.volumes.map(describeVolume);
      case 'lvm':
        return this.groups.map((group) => ({
          name: group.name,
          type: 'dir',
          size: group.size,
          mtime: null,
          mode: null,
          target: `LVM2 volume group, ${group.pvCount} physical volume${group.pvCount === 1 ? '' : 's'}`,
          ...(group.notes.length > 0 ? { notes: group.notes } : {}),
        }));
      case 'group':
        return located.group.volumes.map(describeVolume);
      case 'volume':
        return this.fileSystemOf(located.volume, path).list(located.inner);
    }
  }

  async stat(path: string): Promise<FsEntry> {
    const located = this.locate(path);
    if (located.at !== 'volume') return { name: splitPath(path).at(-1) ?? '/', type: 'dir', size: 0, mtime: null, mode: null };
    return this.fileSystemOf(located.volume, path).stat(located.inner);
  }

  read(path: string): AsyncGenerator<Uint8Array> {
    const { volume, inner } = this.volumeAt(path);
    return this.fileSystemOf(volume, path).read(inner);
  }

  /** A file as data and holes (holes only where its file system marks them). */
  readRegions(path: string): AsyncGenerator<FileRegion> {
    const { volume, inner } = this.volumeAt(path);
    const fileSystem = this.fileSystemOf(volume, path);
    return fileSystem.readRegions ? fileSystem.readRegions(inner) : fileSystem.read(inner);
  }

  async close(): Promise<void> {
    await Promise.all(this.disks.map((view) => view.disk.close()));
  }
}
