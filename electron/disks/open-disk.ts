// Opens one disk file whatever its format: a VMDK descriptor (flat, VMFS, sparse, COWD, seSparse
// or zero extents, one or many), a monolithic sparse or streamOptimized VMDK, or a raw image. This
// is one link of a snapshot chain; vmdk-chain.ts follows the links.
import { LifeboatError } from '../errors.ts';
import { checkRange, SECTOR, type Extent } from './disk.ts';
import { isMissingFile, type FileSource } from './file-source.ts';
import { localFiles } from './local-files.ts';
import { layerExtents, pushRun, type LayerDisk, type Run } from './layer.ts';
import { RawDisk } from './raw-disk.ts';
import {
  DESCRIPTOR_MAX_BYTES,
  looksLikeDescriptor,
  parseDescriptor,
  type DescriptorExtent,
  type VmdkDescriptor,
} from './vmdk-descriptor.ts';
import { SESPARSE_MAGIC } from './vmdk-sesparse.ts';
import { COWD_MAGIC, SparseExtent, SPARSE_MAGIC } from './vmdk-sparse.ts';

export type DiskFormat = 'vmdk-flat' | 'vmdk-sparse' | 'vmdk-descriptor' | 'vmdk-cowd' | 'vmdk-sesparse' | 'raw';

/** One file of a disk: its own bytes, the descriptor that says whether it is a delta, and every
 * file that holds it (the descriptor and its extents). */
export type DiskImage = { disk: LayerDisk; format: DiskFormat; descriptor: VmdkDescriptor | null; files: string[] };

/** A disk made of extents laid end to end, as a VMDK descriptor lists them. */
class ExtentChain implements LayerDisk {
  readonly capacity: number;
  readonly description: string;
  private readonly parts: { start: number; disk: LayerDisk | null; length: number }[];

  constructor(parts: { start: number; disk: LayerDisk | null; length: number }[], description: string) {
    this.parts = parts;
    this.description = description;
    this.capacity = parts.reduce((sum, part) => sum + part.length, 0);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    // Inside one file-backed extent (a monolithicFlat disk has just one): its buffer as it is,
    // without a copy (a backup reads 8 MiB at a time; a copy each time costs as much as the read).
    const within = this.parts.find((part) => part.start <= offset && offset + length <= part.start + part.length);
    if (within?.disk) return within.disk.read(offset - within.start, length);
    const out = Buffer.alloc(length);
    await this.fill(out, offset, length);
    return out;
  }

  async readInto(target: Buffer, offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    const within = this.parts.find((part) => part.start <= offset && offset + length <= part.start + part.length);
    if (within?.disk?.readInto) return within.disk.readInto(target, offset - within.start, length);
    target.fill(0, 0, length);
    await this.fill(target, offset, length);
  }

  /** Copies what each file-backed extent holds of [offset, offset + length) into out (zeros already there). */
  private async fill(out: Buffer, offset: number, length: number): Promise<void> {
    for (const part of this.parts) {
      const from = Math.max(offset, part.start);
      const to = Math.min(offset + length, part.start + part.length);
      if (from >= to || !part.disk) continue;
      const piece = await part.disk.read(from - part.start, to - from);
      piece.copy(out, from - offset);
    }
  }

  async runs(offset: number, length: number): Promise<Run[]> {
    checkRange(this, offset, length);
    const runs: Run[] = [];
    for (const part of this.parts) {
      const from = Math.max(offset, part.start);
      const to = Math.min(offset + length, part.start + part.length);
      if (from >= to) continue;
      // A ZERO extent reads as zeros, over a parent too.
      if (!part.disk) pushRun(runs, 'zero', to - from);
      else for (const run of await part.disk.runs(from - part.start, to - from)) pushRun(runs, run.state, run.length);
    }
    return runs;
  }

  /** Read on its own (a chain reads its layers' runs instead): what it leaves to a parent is zeros. */
  extents(offset: number, length: number): Promise<Extent[]> {
    return layerExtents(this, offset, length);
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((part) => part.disk?.close()));
  }
}

async function openExtent(descriptorPath: string, extent: DescriptorExtent, source: FileSource): Promise<LayerDisk | null> {
  const length = extent.sectors * SECTOR;
  if (extent.kind === 'ZERO' || extent.fileName === null) return null;
  const path = source.beside(descriptorPath, extent.fileName);
  try {
    if (extent.kind === 'SPARSE' || extent.kind === 'VMFSSPARSE' || extent.kind === 'SESPARSE') {
      const sparse = await SparseExtent.open(path, source);
      if (sparse.capacity < length) {
        await sparse.close();
        throw new LifeboatError('corrupt-disk', `${descriptorPath}: sparse extent ${extent.fileName} is smaller than the descriptor says`);
      }
      return sparse;
    }
    const start = extent.fileOffsetSectors * SECTOR;
    const size = await source.size(path);
    if (size < start + length) {
      throw new LifeboatError(
        'corrupt-disk',
        `${descriptorPath}: extent ${extent.fileName} holds ${size} bytes, the descriptor needs ${start + length}`,
      );
    }
    return await RawDisk.open(path, { start, capacity: length }, source);
  } catch (error) {
    if (isMissingFile(error)) throw new LifeboatError('invalid-source', `${descriptorPath}: extent file ${extent.fileName} is missing`);
    throw error;
  }
}

export async function detectDiskFormat(path: string, source: FileSource = localFiles): Promise<DiskFormat> {
  const file = await source.open(path);
  try {
    const bytesRead = Math.min(file.size, 1024);
    const head = await file.read(0, bytesRead);
    if (bytesRead >= 4 && head.readUInt32LE(0) === SPARSE_MAGIC) return 'vmdk-sparse';
    if (bytesRead >= 4 && head.readUInt32LE(0) === COWD_MAGIC) return 'vmdk-cowd';
    if (bytesRead >= 8 && head.readBigUInt64LE(0) === SESPARSE_MAGIC) return 'vmdk-sesparse';
    if (looksLikeDescriptor(head.subarray(0, bytesRead))) return 'vmdk-descriptor';
    return 'raw';
  } finally {
    await file.close();
  }
}

/** Opens one file of a disk without following its parent. */
export async function openDiskImage(path: string, source: FileSource = localFiles): Promise<DiskImage> {
  let format: DiskFormat;
  try {
    format = await detectDiskFormat(path, source);
  } catch (error) {
    if (isMissingFile(error)) throw new LifeboatError('invalid-source', `disk file ${path} does not exist`);
    const code = (error as NodeJS.ErrnoException).code;
    if (!(error instanceof LifeboatError) && typeof code === 'string')
      throw new LifeboatError('invalid-source', `disk file ${path} cannot be opened (${code})`);
    throw error;
  }
  if (format === 'vmdk-cowd' || format === 'vmdk-sesparse') {
    const kind = format === 'vmdk-cowd' ? 'VMFS sparse (COWD)' : 'seSparse';
    throw new LifeboatError('invalid-source', `${path} is a bare ${kind} extent; name the descriptor .vmdk that lists it`);
  }
  if (format === 'raw') return { disk: await RawDisk.open(path, {}, source), format, descriptor: null, files: [path] };
  if (format === 'vmdk-sparse') return openMonolithicSparse(path, source);
  const size = await source.size(path);
  if (size > DESCRIPTOR_MAX_BYTES) throw new LifeboatError('invalid-source', `${path}: VMDK descriptor is larger than 64 KiB`);
  const descriptor = parseDescriptor(await source.readText(path), path);
  const parts: { start: number; disk: LayerDisk | null; length: number }[] = [];
  let start = 0;
  try {
    for (const extent of descriptor.extents) {
      const length = extent.sectors * SECTOR;
      parts.push({ start, length, disk: await openExtent(path, extent, source) });
      start += length;
    }
  } catch (error) {
    await Promise.all(parts.map((part) => part.disk?.close()));
    throw error;
  }
  const extentFiles = descriptor.extents.flatMap((extent) =>
    extent.kind === 'ZERO' || extent.fileName === null ? [] : [source.beside(path, extent.fileName)],
  );
  return { disk: new ExtentChain(parts, `VMDK ${descriptor.createType} ${path}`), format, descriptor, files: [path, ...extentFiles] };
}

/** A monolithicSparse file carries its descriptor inside: that is where a delta names its parent. */
async function openMonolithicSparse(path: string, source: FileSource): Promise<DiskImage> {
  const disk = await SparseExtent.open(path, source);
  try {
    const text = await disk.embeddedDescriptor();
    return {
      disk,
      format: 'vmdk-sparse',
      descriptor: text === null ? null : parseDescriptor(text, `${path} (embedded descriptor)`, { embedded: true }),
      files: [path],
    };
  } catch (error) {
    await disk.close();
    throw error;
  }
}
