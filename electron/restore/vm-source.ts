// Where a restored VM's bytes come from: a restore point of the repository (its blocks read,
// decompressed and checked in the block workers), or a VM folder of disk files (a VM on a storage
// clone, read through the disk readers). A restore to vSphere writes either the same way.
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readSourceVm } from '../disks/vm-folder.ts';
import type { Disk } from '../disks/disk.ts';
import { openDiskChain } from '../disks/vmdk-chain.ts';
import { isAllZero } from '../disks/zero.ts';
import { throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedDisk, type ResolvedPoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { PointDisk } from '../repository/point-disk.ts';
import { workerDecoder, type WorkerPool } from '../workers/pool.ts';
import { dataBytesOf, restoreDiskToFile } from './disk-transfer.ts';
import { decodedDisk } from './point-stream.ts';

export type SourceDisk = { key: string; fileName: string; capacity: number; dataBytes: number };

export type DiskWrite = { replace: boolean; targetLabel: string; context: StepContext; onProgress(bytes: number): void };

export interface VmSource {
  readonly vmName: string;
  readonly vmxText: string;
  readonly disks: SourceDisk[];
  /** The restore point behind it (a data mover is sent its stored blocks), null for a VM folder. */
  readonly point: ResolvedPoint | null;
  /** Writes a disk into a flat file of its capacity at `path` (new, or with `replace` the
   * hypervisor's placeholder), holes not written; returns the data bytes written. */
  writeDisk(key: string, path: string, write: DiskWrite): Promise<number>;
  /** A reader of a disk's bytes (a point's blocks checked as they are read), for the caller to close. */
  openDisk(key: string): Disk;
  close(): Promise<void>;
}

/** Blocks a point's reader decodes ahead of a sequential reader (in the block workers). */
const POINT_READ_AHEAD_BLOCKS = 32;

/** A reader of a point's disk whose blocks are decoded and checked in the block workers, ahead of
 * a sequential reader; read whole and in order (stream()), they are decoded into reused memory. */
export function pointDiskReader(point: ResolvedPoint, key: string, pool: WorkerPool): Disk {
  const reader = new PointDisk(point, key, { decode: workerDecoder(pool), readAhead: POINT_READ_AHEAD_BLOCKS });
  const disk = point.disks.find((candidate) => candidate.key === key) as ResolvedDisk; // PointDisk refused any other
  return {
    capacity: reader.capacity,
    description: reader.description,
    read: (offset, length) => reader.read(offset, length),
    stream: () => decodedDisk(pool, point, disk),
    close: () => reader.close(),
  };
}

export async function pointSource(repository: Repository, pool: WorkerPool, vmId: string, pointId: string): Promise<VmSource> {
  const point = await resolvePoint(repository, vmId, pointId);
  return {
    vmName: point.point.vmName,
    vmxText: point.point.vmConfig.text,
    point,
    disks: point.disks.map((disk) => ({
      key: disk.key,
      fileName: point.point.disks.find((entry) => entry.key === disk.key)?.fileName ?? `${disk.key}.vmdk`,
      capacity: disk.capacity,
      dataBytes: dataBytesOf(disk),
    })),
    writeDisk: async (key, path, write) => {
      const disk = point.disks.find((candidate) => candidate.key === key);
      if (!disk) throw new LifeboatError('internal', `point ${point.point.sequence} has no disk ${key}`);
      return restoreDiskToFile({ pool, point, disk, path, ...write });
    },
    openDisk: (key) => pointDiskReader(point, key, pool),
    close: async () => undefined,
  };
}

const CHUNK = 1024 * 1024;

/** A VM folder (.vmx and its disks) read as it is, such as a VM on a presented storage clone. */
export async function folderSource(folder: string): Promise<VmSource> {
  const vm = await readSourceVm(folder);
  const opened: { key: string; fileName: string; disk: Disk; allocated: number }[] = [];
  try {
    for (const entry of vm.vmx.disks) {
      const { disk, files } = await openDiskChain(join(vm.folder, entry.fileName));
      const source = { key: entry.key, fileName: entry.fileName, disk, allocated: 0 };
      opened.push(source); // before the stats, so a failing one still closes it
      // A descriptor's extents and a delta's parents hold the disk's bytes too.
      for (const file of files) source.allocated += (await stat(file)).blocks * 512;
    }
  } catch (error) {
    for (const entry of opened) await entry.disk.close();
    throw error;
  }
  return {
    vmName: vm.vmx.displayName,
    vmxText: vm.vmxText,
    point: null,
    // What a disk's files take on the source: what its copy needs at most.
    disks: opened.map((entry) => ({
      key: entry.key,
      fileName: entry.fileName,
      capacity: entry.disk.capacity,
      dataBytes: Math.min(entry.allocated, entry.disk.capacity),
    })),
    writeDisk: async (key, path, write) => {
      const entry = opened.find((candidate) => candidate.key === key);
      if (!entry) throw new LifeboatError('internal', `${vm.vmx.displayName} has no disk ${key}`);
      return copyDisk(entry.disk, path, write);
    },
    openDisk: (key) => {
      const entry = opened.find((candidate) => candidate.key === key);
      if (!entry) throw new LifeboatError('internal', `${vm.vmx.displayName} has no disk ${key}`);
      // The source keeps the disk open until its own close().
      const { disk } = entry;
      return {
        capacity: disk.capacity,
        description: disk.description,
        read: (offset, length) => disk.read(offset, length),
        close: async () => undefined,
      };
    },
    close: async () => {
      for (const entry of opened) await entry.disk.close();
    },
  };
}

/** Copies a disk into a sparse flat file; zero chunks stay holes. */
async function copyDisk(disk: Disk, path: string, write: DiskWrite): Promise<number> {
  const handle = await open(path, write.replace ? 'w' : 'wx', 0o644).catch((error: unknown) => {
    throw new LifeboatError('unavailable', `${write.targetLabel}: cannot create ${path}: ${(error as Error).message}`);
  });
  let written = 0;
  try {
    await handle.truncate(disk.capacity);
    for (let offset = 0; offset < disk.capacity; offset += CHUNK) {
      throwIfCancelled(write.context.signal);
      const data = await disk.read(offset, Math.min(CHUNK, disk.capacity - offset));
      if (!isAllZero(data)) {
        await handle.write(data, 0, data.length, offset).catch((error: unknown) => {
          if (isErrnoCode(error, 'ENOSPC')) throw new LifeboatError('target-full', `${write.targetLabel} ran out of space writing ${path}`);
          throw error;
        });
        written += data.length;
      }
      write.onProgress(written);
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return written;
}
