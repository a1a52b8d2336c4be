// Resolving a restore point: walk its chain from the full point, check every link and file, and
// merge the block maps into one flat record buffer per disk (shared with workers, not copied).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { decodeMapFile, RECORD_BYTES, writeRecord, type BlockRecord } from './block-map.ts';
import type { Manifest, ManifestDisk } from './manifest.ts';
import type { Repository } from './repository.ts';

export type ResolvedDisk = {
  key: string;
  fileName: string;
  capacity: number;
  blockCount: number;
  /** blockCount records of RECORD_BYTES; an all-zero record is a hole. */
  map: Uint8Array;
};

export type ResolvedPoint = {
  point: Manifest;
  chain: Manifest[];
  blockSize: number;
  /** Data file of each point of the chain, by sequence number. */
  dataFiles: Map<number, string>;
  disks: ResolvedDisk[];
  /** The chain key when the point is encrypted (readers unseal every block with it). */
  dataKey: Uint8Array | null;
};

export function blockCountOf(capacity: number, blockSize: number): number {
  return Math.ceil(capacity / blockSize);
}

function chainUpTo(points: Manifest[], pointId: string, vmName: string): Manifest[] {
  const target = points.find((point) => point.id === pointId);
  if (!target) throw new LifeboatError('not-found', `restore point ${pointId} of ${vmName} does not exist`);
  const byId = new Map(points.map((point) => [point.id, point]));
  const chain: Manifest[] = [target];
  let current = target;
  while (current.parentId !== null) {
    const parent = byId.get(current.parentId);
    if (!parent) {
      throw new LifeboatError('corrupt-backup', `restore point ${current.sequence} of ${vmName} needs point ${current.parentId}, which is missing from the repository`);
    }
    if (chain.length > points.length) throw new LifeboatError('corrupt-backup', `the chain of ${vmName} loops`);
    chain.unshift(parent);
    current = parent;
  }
  if (chain[0]?.kind !== 'full') throw new LifeboatError('corrupt-backup', `the chain of ${vmName} does not start with a full point`);
  return chain;
}

async function readDiskMap(repository: Repository, manifest: Manifest, disk: ManifestDisk): Promise<BlockRecord[]> {
  const label = `${manifest.vmName} point ${manifest.sequence} disk ${disk.key}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(repository.pointFolder(manifest), disk.mapFile));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('corrupt-backup', `${label}: block map file ${disk.mapFile} is missing`);
    throw error;
  }
  return decodeMapFile(bytes, { blockSize: manifest.blockSize, blockCount: blockCountOf(disk.capacity, manifest.blockSize), sha256: disk.mapSha256, label });
}

export async function resolvePoint(repository: Repository, vmId: string, pointId: string): Promise<ResolvedPoint> {
  const points = await repository.listPoints(vmId);
  const vmName = points.at(-1)?.vmName ?? vmId;
  const chain = chainUpTo(points, pointId, vmName);
  const point = chain[chain.length - 1] as Manifest;
  const blockSize = point.blockSize;
  const dataFiles = new Map<number, string>();
  for (const link of chain) {
    if (link.blockSize !== blockSize) throw new LifeboatError('corrupt-backup', `point ${link.sequence} of ${vmName} uses another block size than its chain`);
    const path = join(repository.pointFolder(link), link.dataFile.name);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('corrupt-backup', `data file of ${vmName} point ${link.sequence} is missing: ${path}`);
      throw error;
    }
    if (size !== link.dataFile.size) {
      throw new LifeboatError('corrupt-backup', `data file of ${vmName} point ${link.sequence} is ${size} bytes, the manifest says ${link.dataFile.size} (truncated or overwritten)`);
    }
    dataFiles.set(link.sequence, path);
  }
  const dataKey = await chainKeyOf(repository, chain, vmName);
  const dataSizes = new Map(chain.map((link) => [link.sequence, link.dataFile.size]));
  const disks: ResolvedDisk[] = [];
  for (const disk of point.disks) {
    const blockCount = blockCountOf(disk.capacity, blockSize);
    const map = new Uint8Array(new SharedArrayBuffer(blockCount * RECORD_BYTES));
    for (const link of chain) {
      const linkDisk = link.disks.find((candidate) => candidate.key === disk.key);
      if (!linkDisk) continue;
      for (const record of await readDiskMap(repository, link, linkDisk)) {
        if (record.index >= blockCount) continue;
        const size = dataSizes.get(record.dataFile);
        if (record.kind !== 0 && (size === undefined || record.offset + record.storedLength > size)) {
          throw new LifeboatError('corrupt-backup', `${vmName} point ${link.sequence} disk ${disk.key}: block ${record.index} points outside the chain's data files`);
        }
        writeRecord(map, record.index * RECORD_BYTES, record);
      }
    }
    disks.push({ key: disk.key, fileName: disk.fileName, capacity: disk.capacity, blockCount, map });
  }
  return { point, chain, blockSize, dataFiles, disks, dataKey };
}

/** An encrypted chain is one key from its full point on; that key must be unlocked. */
async function chainKeyOf(repository: Repository, chain: Manifest[], vmName: string): Promise<Uint8Array | null> {
  const point = chain[chain.length - 1] as Manifest;
  const keyId = point.encryption?.keyId ?? null;
  for (const link of chain) {
    if ((link.encryption?.keyId ?? null) !== keyId) throw new LifeboatError('corrupt-backup', `the chain of ${vmName} mixes encryption keys at point ${link.sequence}`);
  }
  if (keyId === null) return null;
  const key = await repository.keyFor(keyId);
  if (!key) {
    throw new LifeboatError('unauthorized', `point ${point.sequence} of ${vmName} is encrypted (key ${keyId}): give its password (--password-env VAR), a recovery key file (--recovery-key FILE), or store the key (\`lifeboat keys remember\`)`);
  }
  return key;
}
