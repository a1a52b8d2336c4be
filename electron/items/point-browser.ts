// Browsing a restore point (or a VM's disks on a storage clone) without restoring it. Paths read /disk0/part1/etc/hostname: the
// point's disks, their partitions, then the file system inside (ext2/3/4, NTFS or FAT). A disk whose
// partition table cannot be read, or a partition whose file system is unknown or damaged, is listed
// with the reason; the others stay readable.
import { LifeboatError } from '../errors.ts';
import { ExtFileSystem } from '../filesystems/ext4.ts';
import { FatFileSystem } from '../filesystems/fat.ts';
import { NtfsFileSystem } from '../filesystems/ntfs.ts';
import {
  DiskSlice,
  isReadFailure,
  splitPath,
  type FileRegion,
  type FileSystem,
  type FsEntry,
  type VolumeNote,
} from '../filesystems/file-system.ts';
import { readPartitionTable } from '../filesystems/partitions.ts';
import { resolvePoint } from '../repository/chain.ts';
import { PointDisk } from '../repository/point-disk.ts';
import type { Repository } from '../repository/repository.ts';
import type { Disk } from '../disks/disk.ts';

export type Volume = { name: string; size: number; fileSystem: FileSystem | null; problem: string | null };
type DiskView = { name: string; disk: Disk; volumes: Volume[]; problem: string | null };

async function mount(disk: DiskSlice): Promise<{ fileSystem: FileSystem | null; problem: string | null }> {
  const failures: string[] = [];
  for (const open of [ExtFileSystem.open, NtfsFileSystem.open, FatFileSystem.open]) {
    try {
      return { fileSystem: await open(disk), problem: null };
    } catch (error) {
      failures.push((error as Error).message);
    }
  }
  return { fileSystem: null, problem: `unknown or damaged file system: ${failures.join('; ')}` };
}

/** A partition as an entry of its disk: its file system (with what it says about itself), or why
 * it cannot be read. */
function describeVolume(volume: Volume): FsEntry {
  const base = { name: volume.name, size: volume.size, mtime: null, mode: null };
  const fileSystem = volume.fileSystem;
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

  private constructor(disks: DiskView[]) {
    this.disks = disks;
  }

  static async open(repository: Repository, vmId: string, pointId: string): Promise<PointBrowser> {
    const point = await resolvePoint(repository, vmId, pointId);
    return PointBrowser.fromDisks(point.disks.map((resolved) => new PointDisk(point, resolved.key)));
  }

  /** Any disks, a VM's in disk order (a point's, or the files of a VM on a storage clone). */
  static async fromDisks(disks: Disk[]): Promise<PointBrowser> {
    const views: DiskView[] = [];
    for (const [index, disk] of disks.entries()) {
      let table;
      try {
        table = await readPartitionTable(disk);
      } catch (error) {
        if (!isReadFailure(error)) throw error;
        views.push({ name: `disk${index}`, disk, volumes: [], problem: `its partition table could not be read: ${error.message}` });
        continue;
      }
      const slices =
        table.partitions.length > 0
          ? table.partitions.map((part) => ({ name: `part${part.index}`, start: part.start, size: part.size }))
          : [{ name: 'part0', start: 0, size: disk.capacity }];
      const volumes: Volume[] = [];
      for (const slice of slices) {
        const mounted = await mount(new DiskSlice(disk, slice.start, slice.size, `${disk.description} ${slice.name}`));
        volumes.push({ name: slice.name, size: slice.size, ...mounted });
      }
      views.push({ name: `disk${index}`, disk, volumes, problem: null });
    }
    return new PointBrowser(views);
  }

  private locate(path: string): { view: DiskView | null; volume: Volume | null; inner: string } {
    const [diskName, volumeName, ...rest] = splitPath(path);
    const view = diskName === undefined ? null : (this.disks.find((candidate) => candidate.name === diskName) ?? null);
    if (diskName !== undefined && !view) throw new LifeboatError('not-found', `${path}: no disk ${diskName}`);
    const volume = volumeName === undefined ? null : (view?.volumes.find((candidate) => candidate.name === volumeName) ?? null);
    if (volumeName !== undefined && !volume) throw new LifeboatError('not-found', `${path}: no partition ${volumeName}`);
    return { view, volume, inner: `/${rest.join('/')}` };
  }

  private fileSystemOf(volume: Volume, path: string): FileSystem {
    if (!volume.fileSystem) throw new LifeboatError('unavailable', `${path}: ${volume.problem}`);
    return volume.fileSystem;
  }

  /** Every volume as /diskN/partM, with what keeps it from being read, or what its file system
   * says about itself; a disk without a readable partition table is one entry, /diskN. */
  volumes(): { path: string; problem: string | null; notes: readonly VolumeNote[] }[] {
    return this.disks.flatMap((view) =>
      view.problem
        ? [{ path: `/${view.name}`, problem: view.problem, notes: [] }]
        : view.volumes.map((volume) => ({
            path: `/${view.name}/${volume.name}`,
            problem: volume.fileSystem ? null : (volume.problem ?? 'unreadable'),
            notes: volume.fileSystem?.notes ?? [],
          })),
    );
  }

  /** The file system of a /diskN/partM path. */
  fileSystemFor(path: string): FileSystem {
    const { volume } = this.locate(path);
    if (!volume) throw new LifeboatError('bad-request', `${path} is not a partition`);
    return this.fileSystemOf(volume, path);
  }

  async list(path: string): Promise<FsEntry[]> {
    const { view, volume, inner } = this.locate(path);
    if (!view)
      return this.disks.map((disk) => ({
        name: disk.name,
        type: disk.problem ? 'other' : 'dir',
        size: disk.disk.capacity,
        mtime: null,
        mode: null,
        ...(disk.problem ? { target: disk.problem, problem: disk.problem } : {}),
      }));
    if (view.problem) throw new LifeboatError('unavailable', `${path}: ${view.problem}`);
    if (!volume) return view.volumes.map(describeVolume);
    return this.fileSystemOf(volume, path).list(inner);
  }

  async stat(path: string): Promise<FsEntry> {
    const { volume, inner } = this.locate(path);
    if (!volume) return { name: splitPath(path).at(-1) ?? '/', type: 'dir', size: 0, mtime: null, mode: null };
    return this.fileSystemOf(volume, path).stat(inner);
  }

  read(path: string): AsyncGenerator<Uint8Array> {
    const { volume, inner } = this.locate(path);
    if (!volume) throw new LifeboatError('bad-request', `${path} is not a file`);
    return this.fileSystemOf(volume, path).read(inner);
  }

  /** A file as data and holes (holes only where its file system marks them). */
  readRegions(path: string): AsyncGenerator<FileRegion> {
    const { volume, inner } = this.locate(path);
    if (!volume) throw new LifeboatError('bad-request', `${path} is not a file`);
    const fileSystem = this.fileSystemOf(volume, path);
    return fileSystem.readRegions ? fileSystem.readRegions(inner) : fileSystem.read(inner);
  }

  async close(): Promise<void> {
    await Promise.all(this.disks.map((view) => view.disk.close()));
  }
}
