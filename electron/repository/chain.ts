// Resolving a restore point: find the points its blocks depend on, check every link and file, and
// merge the block maps into one flat record buffer per disk (shared with workers, not copied).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { decodeMapFile, RECORD_BYTES, writeRecord, type BlockRecord } from './block-map.ts';
import type { ChainLink, Manifest } from './manifest.ts';
import type { PointName, Repository } from './repository.ts';

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
  /** The points whose blocks this one uses, oldest first, ending with the point itself. */
  chain: ChainLink[];
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

/** What a later point needs of this one (its own link in a chain). */
export function linkOf(manifest: Manifest): ChainLink {
  return {
    sequence: manifest.sequence,
    id: manifest.id,
    dataFileSize: manifest.dataFile.size,
    disks: manifest.disks.map(({ key, capacity, mapFile, mapSha256, mapEntries }) => ({ key, capacity, mapFile, mapSha256, mapEntries })),
  };
}

/** The label of a point in errors: its sequence when it is known, and the VM. */
function pointLabel(entry: Pick<PointName, 'sequence'>, vmName: string): string {
  return `restore point ${entry.sequence} of ${vmName}`;
}

/** The chain of a point made before points recorded what they depend on: its parents'
 * manifests, each of which must be healthy. */
async function chainFromParents(
  repository: Repository,
  vmId: string,
  names: PointName[],
  target: Manifest,
  vmName: string,
): Promise<{ links: ChainLink[]; manifests: Manifest[] }> {
  const byId = new Map(names.map((name) => [name.id, name]));
  const manifests: Manifest[] = [target];
  let current = target;
  while (current.parentId !== null) {
    const parentName = byId.get(current.parentId);
    if (!parentName)
      throw new LifeboatError(
        'corrupt-backup',
        `${pointLabel(current, vmName)} needs point ${current.parentId}, which is missing from the repository`,
      );
    if (manifests.length > names.length) throw new LifeboatError('corrupt-backup', `the chain of ${vmName} loops`);
    const parent = await repository.readPoint(vmId, parentName);
    if (!parent.manifest || parent.damage !== null)
      throw new LifeboatError(
        'corrupt-backup',
        `${pointLabel(target, vmName)} needs point ${parent.sequence}, which is damaged: ${parent.damage}`,
      );
    manifests.unshift(parent.manifest);
    current = parent.manifest;
  }
  if (manifests[0]?.kind !== 'full') throw new LifeboatError('corrupt-backup', `the chain of ${vmName} does not start with a full point`);
  return { links: manifests.map(linkOf), manifests };
}

async function readDiskMap(
  repository: Repository,
  vmId: string,
  link: ChainLink,
  disk: ChainLink['disks'][number],
  blockSize: number,
  vmName: string,
): Promise<BlockRecord[]> {
  const label = `${vmName} point ${link.sequence} disk ${disk.key}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(repository.pointFolder({ vmId, ...link }), disk.mapFile));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('corrupt-backup', `${label}: block map file ${disk.mapFile} is missing`);
    throw error;
  }
  const records = decodeMapFile(bytes, { blockSize, blockCount: blockCountOf(disk.capacity, blockSize), sha256: disk.mapSha256, label });
  if (records.length !== disk.mapEntries)
    throw new LifeboatError('corrupt-backup', `${label}: block map holds ${records.length} blocks, the manifest says ${disk.mapEntries}`);
  return records;
}

/** Resolves a point from its own manifest and the files of the points it depends on, reading no
 * other manifest. A damaged manifest of another point matters only to a point made before points
 * recorded their chain (it reads its parents'); the error names the point and what is wrong. */
export async function resolvePoint(repository: Repository, vmId: string, pointId: string): Promise<ResolvedPoint> {
  const names = await repository.pointFolders(vmId);
  const name = names.find((candidate) => candidate.id === pointId);
  if (!name)
    throw new LifeboatError(
      'not-found',
      `restore point ${pointId} of ${await repository.vmName(vmId)} is not in the repository ${repository.path}`,
    );
  const target = await repository.readPoint(vmId, name);
  if (!target.manifest || target.damage !== null)
    throw new LifeboatError('corrupt-backup', `${pointLabel(target, await repository.vmName(vmId))} is damaged: ${target.damage}`);
  const point = target.manifest;
  const vmName = point.vmName;
  const { links, manifests } = point.dependsOn
    ? { links: [...point.dependsOn, linkOf(point)], manifests: [point] }
    : await chainFromParents(repository, vmId, names, point, vmName);
  const present = new Set(names.map((candidate) => candidate.id));
  const gone = links.find((link) => !present.has(link.id));
  if (gone)
    throw new LifeboatError(
      'corrupt-backup',
      `${pointLabel(point, vmName)} needs point ${gone.sequence}, which is missing from the repository (folder ${repository.pointFolder({ vmId, ...gone })})`,
    );
  const blockSize = point.blockSize;
  for (const manifest of manifests) {
    if (manifest.blockSize !== blockSize)
      throw new LifeboatError('corrupt-backup', `point ${manifest.sequence} of ${vmName} uses another block size than its chain`);
  }
  const dataFiles = new Map<number, string>();
  for (const link of links) {
    const path = join(repository.pointFolder({ vmId, ...link }), 'data.lbd');
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT'))
        throw new LifeboatError('corrupt-backup', `data file of ${vmName} point ${link.sequence} is missing: ${path}`);
      throw error;
    }
    if (size !== link.dataFileSize) {
      throw new LifeboatError(
        'corrupt-backup',
        `data file of ${vmName} point ${link.sequence} is ${size} bytes, the manifest says ${link.dataFileSize} (truncated or overwritten)`,
      );
    }
    dataFiles.set(link.sequence, path);
  }
  const dataKey = await chainKeyOf(repository, manifests, vmName);
  const dataSizes = new Map(links.map((link) => [link.sequence, link.dataFileSize]));
  const disks: ResolvedDisk[] = [];
  for (const disk of point.disks) {
    const blockCount = blockCountOf(disk.capacity, blockSize);
    const map = new Uint8Array(new SharedArrayBuffer(blockCount * RECORD_BYTES));
    for (const link of links) {
      const linkDisk = link.disks.find((candidate) => candidate.key === disk.key);
      if (!linkDisk) continue;
      for (const record of await readDiskMap(repository, vmId, link, linkDisk, blockSize, vmName)) {
        if (record.index >= blockCount) continue;
        const size = dataSizes.get(record.dataFile);
        if (record.kind !== 0 && (size === undefined || record.offset + record.storedLength > size)) {
          throw new LifeboatError(
            'corrupt-backup',
            `${vmName} point ${link.sequence} disk ${disk.key}: block ${record.index} points outside the chain's data files`,
          );
        }
        writeRecord(map, record.index * RECORD_BYTES, record);
      }
    }
    disks.push({ key: disk.key, fileName: disk.fileName, capacity: disk.capacity, blockCount, map });
  }
  return { point, chain: links, blockSize, dataFiles, disks, dataKey };
}

/** An encrypted chain is one key from its full point on; that key must be unlocked. */
async function chainKeyOf(repository: Repository, chain: Manifest[], vmName: string): Promise<Uint8Array | null> {
  const point = chain[chain.length - 1] as Manifest;
  const keyId = point.encryption?.keyId ?? null;
  for (const link of chain) {
    if ((link.encryption?.keyId ?? null) !== keyId)
      throw new LifeboatError('corrupt-backup', `the chain of ${vmName} mixes encryption keys at point ${link.sequence}`);
  }
  if (keyId === null) return null;
  const key = await repository.keyFor(keyId);
  if (!key) {
    throw new LifeboatError(
      'unauthorized',
      `point ${point.sequence} of ${vmName} is encrypted (key ${keyId}): give its password (--password-env VAR), a recovery key file (--recovery-key FILE), or store the key (\`lifeboat keys remember\`)`,
    );
  }
  return key;
}
