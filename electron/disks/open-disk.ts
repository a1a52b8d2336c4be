// Opens a disk file whatever its format: a VMDK descriptor (flat, VMFS, sparse or zero extents,
// one or many), a monolithic sparse VMDK, or a raw image.
import { open as openFile, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { checkRange, SECTOR, type Disk } from './disk.ts';
import { RawDisk } from './raw-disk.ts';
import { DESCRIPTOR_MAX_BYTES, looksLikeDescriptor, parseDescriptor, type DescriptorExtent } from './vmdk-descriptor.ts';
import { SparseExtent, SPARSE_MAGIC } from './vmdk-sparse.ts';

export type DiskFormat = 'vmdk-flat' | 'vmdk-sparse' | 'vmdk-descriptor' | 'raw';

/** A disk made of extents laid end to end, as a VMDK descriptor lists them. */
class ExtentChain implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly parts: { start: number; disk: Disk | null; length: number }[];

  constructor(parts: { start: number; disk: Disk | null; length: number }[], description: string) {
    this.parts = parts;
    this.description = description;
    this.capacity = parts.reduce((sum, part) => sum + part.length, 0);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    for (const part of this.parts) {
      const from = Math.max(offset, part.start);
      const to = Math.min(offset + length, part.start + part.length);
      if (from >= to || !part.disk) continue;
      const piece = await part.disk.read(from - part.start, to - from);
      piece.copy(out, from - offset);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((part) => part.disk?.close()));
  }
}

async function openExtent(folder: string, extent: DescriptorExtent, label: string): Promise<Disk | null> {
  const length = extent.sectors * SECTOR;
  if (extent.kind === 'ZERO' || extent.fileName === null) return null;
  const path = join(folder, extent.fileName);
  try {
    if (extent.kind === 'SPARSE') {
      const sparse = await SparseExtent.open(path);
      if (sparse.capacity < length) throw new LifeboatError('corrupt-disk', `${label}: sparse extent ${extent.fileName} is smaller than the descriptor says`);
      return sparse;
    }
    const start = extent.fileOffsetSectors * SECTOR;
    const { size } = await stat(path);
    if (size < start + length) {
      throw new LifeboatError('corrupt-disk', `${label}: extent ${extent.fileName} holds ${size} bytes, the descriptor needs ${start + length}`);
    }
    return await RawDisk.open(path, { start, capacity: length });
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('invalid-source', `${label}: extent file ${extent.fileName} is missing`);
    throw error;
  }
}

export async function detectDiskFormat(path: string): Promise<DiskFormat> {
  const handle = await openFile(path, 'r');
  try {
    const head = Buffer.alloc(1024);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    if (bytesRead >= 4 && head.readUInt32LE(0) === SPARSE_MAGIC) return 'vmdk-sparse';
    if (looksLikeDescriptor(head.subarray(0, bytesRead))) return 'vmdk-descriptor';
    return 'raw';
  } finally {
    await handle.close();
  }
}

export async function openDisk(path: string): Promise<Disk> {
  let format: DiskFormat;
  try {
    format = await detectDiskFormat(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('invalid-source', `disk file ${path} does not exist`);
    throw error;
  }
  if (format === 'vmdk-sparse') return SparseExtent.open(path);
  if (format === 'raw') return RawDisk.open(path);
  const { size } = await stat(path);
  if (size > DESCRIPTOR_MAX_BYTES) throw new LifeboatError('invalid-source', `${path}: VMDK descriptor is larger than 64 KiB`);
  const descriptor = parseDescriptor(await readFile(path, 'latin1'), path);
  const parts: { start: number; disk: Disk | null; length: number }[] = [];
  let start = 0;
  try {
    for (const extent of descriptor.extents) {
      const length = extent.sectors * SECTOR;
      parts.push({ start, length, disk: await openExtent(dirname(path), extent, path) });
      start += length;
    }
  } catch (error) {
    await Promise.all(parts.map((part) => part.disk?.close()));
    throw error;
  }
  return new ExtentChain(parts, `VMDK ${descriptor.createType} ${path}`);
}
