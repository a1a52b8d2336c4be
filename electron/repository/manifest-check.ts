// Whether a manifest that parses describes a point a restore can use: sizes in bounds and
// consistent with each other, the disk list matching the configuration, the chain links in
// order. A manifest can pass its hash check and still be impossible (written before hashes were
// recorded, or by a bug); this says what is wrong in one phrase, or null.
import { LifeboatError } from '../errors.ts';
import { parseVmx } from '../disks/vmx.ts';
import type { ChainLink, Manifest } from './manifest.ts';

/** 64 TiB: above VMware's largest virtual disk (62 TB), far below 2^53. */
export const MAX_DISK_BYTES = 2 ** 46;
export const SECTOR_BYTES = 512;
const MAX_BLOCK_SIZE = 64 * 1024 * 1024;

type DiskShape = Pick<Manifest['disks'][number], 'key' | 'capacity' | 'mapFile' | 'mapEntries'>;

/** Why a disk of this many bytes cannot be a virtual disk (null: it can). */
export function diskCapacityProblem(capacity: number): string | null {
  if (!Number.isSafeInteger(capacity) || capacity <= 0 || capacity > MAX_DISK_BYTES)
    return `an impossible capacity of ${capacity} bytes (a virtual disk has 1 to ${MAX_DISK_BYTES})`;
  if (capacity % SECTOR_BYTES !== 0) return `a capacity of ${capacity} bytes, not whole ${SECTOR_BYTES}-byte sectors`;
  return null;
}

function diskProblem(disk: DiskShape, blockSize: number, where: string): string | null {
  const capacity = diskCapacityProblem(disk.capacity);
  if (capacity) return `${where}disk ${disk.key} has ${capacity}`;
  const blockCount = Math.ceil(disk.capacity / blockSize);
  if (disk.mapEntries > blockCount)
    return `${where}disk ${disk.key} lists ${disk.mapEntries} blocks in its map, more than its ${blockCount}`;
  return null;
}

function disksProblem(disks: DiskShape[], blockSize: number, where: string): string | null {
  if (new Set(disks.map((disk) => disk.key)).size !== disks.length) return `${where}a disk is listed twice`;
  if (new Set(disks.map((disk) => disk.mapFile)).size !== disks.length) return `${where}two disks share a block map file`;
  for (const disk of disks) {
    const problem = diskProblem(disk, blockSize, where);
    if (problem) return problem;
  }
  return null;
}

function linksProblem(manifest: Manifest, links: ChainLink[]): string | null {
  if ((manifest.kind === 'full') !== (links.length === 0))
    return `it is ${manifest.kind === 'full' ? 'a full point but depends on others' : 'an incremental point that depends on no other'}`;
  if (manifest.parentId !== null && links.at(-1)?.id !== manifest.parentId) return 'its chain does not end with its parent';
  let previous = 0;
  for (const link of links) {
    if (link.sequence <= previous || link.sequence >= manifest.sequence) return `its chain lists point ${link.sequence} out of order`;
    previous = link.sequence;
    const problem = disksProblem(link.disks, manifest.blockSize, `point ${link.sequence} of its chain: `);
    if (problem) return problem;
  }
  return null;
}

export function manifestProblem(manifest: Manifest): string | null {
  const { blockSize } = manifest;
  if (blockSize < SECTOR_BYTES || blockSize > MAX_BLOCK_SIZE || blockSize % SECTOR_BYTES !== 0)
    return `its block size of ${blockSize} bytes is impossible`;
  if ((manifest.kind === 'full') !== (manifest.parentId === null))
    return `it is ${manifest.kind === 'full' ? 'a full point with a parent' : 'an incremental point without a parent'}`;
  if (manifest.disks.length === 0) return 'it lists no disk';
  const problem = disksProblem(manifest.disks, blockSize, '') ?? (manifest.dependsOn ? linksProblem(manifest, manifest.dependsOn) : null);
  if (problem) return problem;
  if (/[/\\]/.test(manifest.vmConfig.fileName)) return `its configuration file name ${manifest.vmConfig.fileName} is not a plain file name`;
  let entries: Map<string, string>;
  try {
    entries = parseVmx(manifest.vmConfig.text, 'its configuration').entries;
  } catch (error) {
    if (error instanceof LifeboatError) return error.message;
    throw error;
  }
  for (const disk of manifest.disks) {
    if (entries.get(`${disk.key.toLowerCase()}.filename`) !== disk.fileName)
      return `disk ${disk.key} (${disk.fileName}) is not in its configuration`;
  }
  return null;
}
