// FAT12/16/32 read-only: the boot sector's geometry, the FAT itself, directories with long
// (VFAT) names, and files by their cluster chains. Every chain is bounded by the cluster count,
// so a looping FAT is an error, not a hang.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { FolderTrail, splitPath, type FileSystem, type FsEntry, type VolumeNote } from './file-system.ts';
import { FolderCache, type NamedEntries } from './folder-cache.ts';

const MAX_FAT_BYTES = 64 * 1024 * 1024;
const DIR_ENTRY = 32;

export type FatGeometry = {
  bits: 12 | 16 | 32;
  bytesPerSector: number;
  clusterBytes: number;
  fatOffset: number;
  fatBytes: number;
  rootOffset: number;
  rootBytes: number;
  rootCluster: number;
  dataOffset: number;
  clusters: number;
  label: string;
};

export function parseFatBootSector(boot: Buffer, volumeBytes: number): FatGeometry {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `not a usable FAT file system (${why})`);
  };
  if (boot.length < 512 || boot.readUInt16LE(510) !== 0xaa55) bad('no boot sector signature');
  const bytesPerSector = boot.readUInt16LE(11);
  const sectorsPerCluster = boot[13] as number;
  const reserved = boot.readUInt16LE(14);
  const fats = boot[16] as number;
  const rootEntries = boot.readUInt16LE(17);
  const totalSectors = boot.readUInt16LE(19) || boot.readUInt32LE(32);
  const fatSectors = boot.readUInt16LE(22) || boot.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) bad(`sector size ${bytesPerSector}`);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) bad(`${sectorsPerCluster} sectors per cluster`);
  if (fats < 1 || fats > 4 || reserved < 1 || fatSectors < 1) bad('FAT layout');
  const rootSectors = Math.ceil((rootEntries * DIR_ENTRY) / bytesPerSector);
  const dataSectors = totalSectors - (reserved + fats * fatSectors + rootSectors);
  if (dataSectors <= 0 || totalSectors * bytesPerSector > volumeBytes + bytesPerSector) bad('sizes do not fit the volume');
  const clusters = Math.floor(dataSectors / sectorsPerCluster);
  const bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
  const fatBytes = fatSectors * bytesPerSector;
  if (fatBytes > MAX_FAT_BYTES || fatBytes < Math.ceil(((clusters + 2) * bits) / 8)) bad('FAT size');
  const labelAt = bits === 32 ? 71 : 43;
  return {
    bits,
    bytesPerSector,
    clusterBytes: sectorsPerCluster * bytesPerSector,
    fatOffset: reserved * bytesPerSector,
    fatBytes,
    rootOffset: (reserved + fats * fatSectors) * bytesPerSector,
    rootBytes: rootSectors * bytesPerSector,
    rootCluster: bits === 32 ? boot.readUInt32LE(44) : 0,
    dataOffset: (reserved + fats * fatSectors + rootSectors) * bytesPerSector,
    clusters,
    label: boot.toString('latin1', labelAt, labelAt + 11).trim(),
  };
}

function fatTime(date: number, time: number): Date | null {
  if (date === 0) return null;
  return new Date(Date.UTC(1980 + (date >> 9), ((date >> 5) & 0x0f) - 1, date & 0x1f, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2));
}

type FatEntry = FsEntry & { cluster: number };

/** Parses directory bytes into entries, assembling long names and checking their checksums. */
export function parseFatDirectory(bytes: Buffer): FatEntry[] {
  const entries: FatEntry[] = [];
  let longName: string[] = [];
  let longChecksum = -1;
  for (let at = 0; at + DIR_ENTRY <= bytes.length; at += DIR_ENTRY) {
    const first = bytes[at] as number;
    if (first === 0x00) break;
    const attributes = bytes[at + 11] as number;
    if (first === 0xe5) {
      longName = [];
      continue;
    }
    if (attributes === 0x0f) {
      const part = Buffer.concat([
        bytes.subarray(at + 1, at + 11),
        bytes.subarray(at + 14, at + 26),
        bytes.subarray(at + 28, at + 32),
      ]).toString('utf16le');
      if (first & 0x40) longName = [];
      longChecksum = bytes[at + 13] as number;
      longName.unshift(part.split('\0')[0] as string);
      continue;
    }
    if (attributes & 0x08) {
      longName = [];
      continue; // volume label
    }
    const short = bytes.subarray(at, at + 11);
    let checksum = 0;
    for (const byte of short) checksum = (((checksum & 1) << 7) + (checksum >> 1) + byte) & 0xff;
    const flags = bytes[at + 12] as number;
    let base = short.toString('latin1', 0, 8).trimEnd();
    let extension = short.toString('latin1', 8, 11).trimEnd();
    if (first === 0x05) base = `\u00e5${base.slice(1)}`;
    if (flags & 0x08) base = base.toLowerCase();
    if (flags & 0x10) extension = extension.toLowerCase();
    const name = longName.length > 0 && longChecksum === checksum ? longName.join('') : extension ? `${base}.${extension}` : base;
    longName = [];
    if (name === '.' || name === '..') continue;
    entries.push({
      name,
      type: attributes & 0x10 ? 'dir' : 'file',
      size: attributes & 0x10 ? 0 : bytes.readUInt32LE(at + 28),
      mtime: fatTime(bytes.readUInt16LE(at + 24), bytes.readUInt16LE(at + 22)),
      mode: null,
      cluster: (bytes.readUInt16LE(at + 20) << 16) | bytes.readUInt16LE(at + 26),
    });
  }
  return entries;
}

export class FatFileSystem implements FileSystem {
  readonly kind = 'fat' as const;
  readonly label: string;
  readonly notes: VolumeNote[] = [];
  private readonly disk: Disk;
  private readonly geometry: FatGeometry;
  private readonly fat: Buffer;
  /** Folders read last, by first cluster (-1: the FAT12/16 root area); names caseless, as FAT's. */
  private readonly folders = new FolderCache<number, FatEntry>(true);

  private constructor(disk: Disk, geometry: FatGeometry, fat: Buffer) {
    this.disk = disk;
    this.geometry = geometry;
    this.fat = fat;
    this.label = geometry.label;
  }

  static async open(disk: Disk): Promise<FatFileSystem> {
    const geometry = parseFatBootSector(await disk.read(0, Math.min(512, disk.capacity)), disk.capacity);
    return new FatFileSystem(disk, geometry, await disk.read(geometry.fatOffset, geometry.fatBytes));
  }

  private next(cluster: number): number | null {
    const { bits } = this.geometry;
    let value: number;
    if (bits === 12) {
      const word = this.fat.readUInt16LE(Math.floor(cluster * 1.5));
      value = cluster & 1 ? word >> 4 : word & 0x0fff;
      return value >= 0xff8 ? null : value;
    }
    if (bits === 16) {
      value = this.fat.readUInt16LE(cluster * 2);
      return value >= 0xfff8 ? null : value;
    }
    value = this.fat.readUInt32LE(cluster * 4) & 0x0fffffff;
    return value >= 0x0ffffff8 ? null : value;
  }

  /** The clusters of a chain, in order; bad links and loops are errors. */
  private chain(start: number): number[] {
    const clusters: number[] = [];
    let cluster: number | null = start;
    while (cluster !== null) {
      if (cluster < 2 || cluster >= this.geometry.clusters + 2)
        throw new LifeboatError('corrupt-disk', `FAT chain points at cluster ${cluster}, outside the volume`);
      if (clusters.length > this.geometry.clusters) throw new LifeboatError('corrupt-disk', 'FAT chain loops');
      clusters.push(cluster);
      cluster = this.next(cluster);
    }
    return clusters;
  }

  private async *readChain(start: number, size: number | null): AsyncGenerator<Uint8Array> {
    if (start === 0) return;
    let left = size ?? Number.POSITIVE_INFINITY;
    for (const cluster of this.chain(start)) {
      if (left <= 0) return;
      const length = Math.min(this.geometry.clusterBytes, left);
      yield await this.disk.read(this.geometry.dataOffset + (cluster - 2) * this.geometry.clusterBytes, length);
      left -= length;
    }
    if (size !== null && left > 0) throw new LifeboatError('corrupt-disk', `file is ${size} bytes but its cluster chain is shorter`);
  }

  private async directory(cluster: number | null): Promise<FatEntry[]> {
    if (cluster === null) {
      if (this.geometry.bits !== 32) return parseFatDirectory(await this.disk.read(this.geometry.rootOffset, this.geometry.rootBytes));
      cluster = this.geometry.rootCluster;
    }
    const parts: Uint8Array[] = [];
    for await (const part of this.readChain(cluster, null)) parts.push(part);
    return parseFatDirectory(Buffer.concat(parts));
  }

  private async named(cluster: number | null): Promise<NamedEntries<FatEntry>> {
    return this.folders.get(cluster ?? -1, () => this.directory(cluster));
  }

  private async resolve(path: string): Promise<FatEntry | null> {
    let cluster: number | null = null;
    let found: FatEntry | null = null;
    // Cluster 0 in an entry also means the root folder.
    const trail = new FolderTrail(path, [this.geometry.rootCluster, 0]);
    for (const part of splitPath(path)) {
      found = (await this.named(cluster)).find(part) ?? null;
      if (!found) throw new LifeboatError('not-found', `${path}: no such file or folder`);
      if (found.type === 'dir') trail.enter(found.cluster, found.name);
      cluster = found.type === 'dir' ? found.cluster : -1;
      if (cluster === -1 && part !== splitPath(path).at(-1)) throw new LifeboatError('not-found', `${path}: ${found.name} is not a folder`);
    }
    return found;
  }

  async list(path: string): Promise<FsEntry[]> {
    const entry = await this.resolve(path);
    if (entry && entry.type !== 'dir') throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    return (await this.named(entry ? entry.cluster : null)).entries.map(({ cluster: _cluster, ...rest }) => rest);
  }

  async stat(path: string): Promise<FsEntry> {
    const entry = await this.resolve(path);
    if (!entry) return { name: '/', type: 'dir', size: 0, mtime: null, mode: null };
    const { cluster: _cluster, ...rest } = entry;
    return rest;
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    const entry = await this.resolve(path);
    if (!entry || entry.type !== 'file') throw new LifeboatError('bad-request', `${path} is not a file`);
    yield* this.readChain(entry.cluster, entry.size);
  }
}
