// Reader for VMware's sparse extents: the hosted one ("KDMV", monolithicSparse and
// twoGbMaxExtentSparse) and ESXi's deltas, vmfsSparse ("COWD") and seSparse. In all a grain
// directory points at grain tables, which point at grains; a grain nobody wrote is the parent's
// in a snapshot delta.
// streamOptimized extents hold each grain deflated behind a small marker, and may keep their
// real header in a footer at the end of the file.
import { inflateSync } from 'node:zlib';
import { LifeboatError } from '../errors.ts';
import { checkRange, SECTOR, type Extent } from './disk.ts';
import { localFiles, type FileSource, type SourceFile } from './file-source.ts';
import { DESCRIPTOR_MAX_BYTES } from './vmdk-descriptor.ts';
import { ABSENT_GRAIN as ABSENT, layerExtents, pushRun, ZEROED_GRAIN as ZEROED, type LayerDisk, type Run } from './layer.ts';
import {
  checkSeSparseVolatileHeader,
  parseSeSparseHeader,
  SESPARSE_GTES_PER_GT,
  SESPARSE_MAGIC,
  seSparseGrainSector,
  seSparseTableSector,
  type SeSparseLayout,
} from './vmdk-sesparse.ts';

export const SPARSE_MAGIC = 0x564d444b; // "KDMV" read little-endian
export const COWD_MAGIC = 0x44574f43; // "COWD" read little-endian
const COWD_GTES_PER_GT = 4096; // fixed by the format
const COWD_HEADER_BYTES = 2048;
const FLAG_ZEROED_GRAIN_GTE = 1 << 2;
const FLAG_COMPRESSED = 1 << 16;
const FLAG_MARKERS = 1 << 17;
const COMPRESSION_DEFLATE = 1;
const GD_AT_END = 0xffffffffffffffffn; // streamOptimized: the footer holds the real header
const MARKER_END_OF_STREAM = 0;
const MARKER_FOOTER = 3;
const GRAIN_MARKER_BYTES = 12; // lba (u64) and compressed size (u32), then the deflated grain
const MAX_GRAIN_SECTORS = 2048; // 1 MiB; VMware uses 128 (64 KiB)
const MAX_GTES_PER_GT = 4096;

export type SparseHeader = {
  version: number;
  flags: number;
  capacitySectors: number;
  grainSectors: number;
  gtesPerGt: number;
  gdSector: number;
  gdEntries: number;
  /** Where the embedded descriptor lies (sectors); 0 when there is none (COWD never has one). */
  descriptorSector: number;
  descriptorSectors: number;
  /** streamOptimized: every grain is deflated behind a grain marker. */
  compressed: boolean;
  /** seSparse: 64-bit directory and table entries, decoded as that format says. */
  seSparse: SeSparseLayout | null;
};

/** Validates the 512-byte header against the file it came from; throws corrupt-disk on any lie. */
export function parseSparseHeader(header: Buffer, fileSize: number, label: string): SparseHeader {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `${label}: not a usable VMDK sparse extent (${why})`);
  };
  if (header.length < SECTOR) bad('header is shorter than 512 bytes');
  if (header.readUInt32LE(0) !== SPARSE_MAGIC) bad('no KDMV magic');
  const version = header.readUInt32LE(4);
  if (version < 1 || version > 3) bad(`version ${version} is unknown`);
  const flags = header.readUInt32LE(8);
  // qemu goes by the algorithm field, VMware sets the flag too: either means deflated grains.
  const algorithm = header.readUInt16LE(77);
  const compressed = (flags & FLAG_COMPRESSED) !== 0 || algorithm === COMPRESSION_DEFLATE;
  if (compressed && algorithm !== COMPRESSION_DEFLATE) bad(`compression algorithm ${algorithm} is unknown`);
  if (compressed && !(flags & FLAG_MARKERS)) bad('compressed grains without grain markers are not supported');
  const capacitySectors = Number(header.readBigUInt64LE(12));
  const grainSectors = Number(header.readBigUInt64LE(20));
  const gtesPerGt = header.readUInt32LE(44);
  const gdSector = Number(header.readBigUInt64LE(56));
  const descriptorSector = Number(header.readBigUInt64LE(28));
  const descriptorSectors = Number(header.readBigUInt64LE(36));
  if (!Number.isSafeInteger(capacitySectors) || capacitySectors * SECTOR > Number.MAX_SAFE_INTEGER) bad('capacity is out of range');
  const gdEntries = checkGrainGeometry(bad, capacitySectors, grainSectors, gtesPerGt, gdSector, fileSize);
  if (
    descriptorSector !== 0 &&
    (!Number.isSafeInteger(descriptorSector * SECTOR) ||
      descriptorSectors * SECTOR > DESCRIPTOR_MAX_BYTES ||
      descriptorSector * SECTOR >= fileSize)
  ) {
    bad('embedded descriptor lies outside the file or is larger than 64 KiB');
  }
  return {
    version,
    flags,
    capacitySectors,
    grainSectors,
    gtesPerGt,
    gdSector,
    gdEntries,
    descriptorSector,
    descriptorSectors: descriptorSector === 0 ? 0 : descriptorSectors,
    compressed,
    seSparse: null,
  };
}

/** The header of an ESXi vmfsSparse extent ("COWD", 32-bit fields, 4096 entries per grain
 * table), read into the same shape as the hosted one's. */
export function parseCowdHeader(header: Buffer, fileSize: number, label: string): SparseHeader {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `${label}: not a usable VMFS sparse (COWD) extent (${why})`);
  };
  if (header.length < COWD_HEADER_BYTES || fileSize < COWD_HEADER_BYTES) bad('header is shorter than 2048 bytes');
  if (header.readUInt32LE(0) !== COWD_MAGIC) bad('no COWD magic');
  const version = header.readUInt32LE(4);
  if (version !== 1) bad(`version ${version} is unknown`);
  const capacitySectors = header.readUInt32LE(12);
  const grainSectors = header.readUInt32LE(16);
  const gdSector = header.readUInt32LE(20);
  const gdEntries = checkGrainGeometry(bad, capacitySectors, grainSectors, COWD_GTES_PER_GT, gdSector, fileSize);
  if (header.readUInt32LE(24) < gdEntries) bad(`grain directory has ${header.readUInt32LE(24)} entries, the capacity needs ${gdEntries}`);
  return {
    version,
    flags: 0,
    capacitySectors,
    grainSectors,
    gtesPerGt: COWD_GTES_PER_GT,
    gdSector,
    gdEntries,
    descriptorSector: 0,
    descriptorSectors: 0,
    compressed: false,
    seSparse: null,
  };
}

/** Checks grain size, table size and where the grain directory lies; returns its entry count. */
function checkGrainGeometry(
  bad: (why: string) => never,
  capacitySectors: number,
  grainSectors: number,
  gtesPerGt: number,
  gdSector: number,
  fileSize: number,
): number {
  if (grainSectors < 1 || grainSectors > MAX_GRAIN_SECTORS || (grainSectors & (grainSectors - 1)) !== 0)
    bad(`grain size ${grainSectors} sectors`);
  if (gtesPerGt < 1 || gtesPerGt > MAX_GTES_PER_GT) bad(`${gtesPerGt} entries per grain table`);
  const gdEntries = Math.ceil(capacitySectors / (grainSectors * gtesPerGt));
  if (!Number.isSafeInteger(gdSector) || gdSector === 0 || (gdSector * SECTOR + gdEntries * 4 > fileSize && gdEntries > 0)) {
    bad('grain directory lies outside the file');
  }
  return gdEntries;
}

function seSparseHeader(layout: SeSparseLayout): SparseHeader {
  const { capacitySectors, grainSectors, gdSector, gdEntries } = layout;
  return {
    version: 0,
    flags: 0,
    capacitySectors,
    grainSectors,
    gtesPerGt: SESPARSE_GTES_PER_GT,
    gdSector,
    gdEntries,
    descriptorSector: 0,
    descriptorSectors: 0,
    compressed: false,
    seSparse: layout,
  };
}

export class SparseExtent implements LayerDisk {
  readonly capacity: number;
  private readonly grainBytes: number;
  /** Decoded grain tables: file sectors, ABSENT or ZEROED. */
  private readonly tables = new Map<number, Float64Array>();

  private readonly file: SourceFile;
  private readonly header: SparseHeader;
  /** File sectors of the grain tables, 0 where there is none. */
  private readonly directory: Float64Array;
  readonly description: string;

  private constructor(file: SourceFile, header: SparseHeader, directory: Float64Array, description: string) {
    this.file = file;
    this.header = header;
    this.directory = directory;
    this.description = description;
    this.capacity = header.capacitySectors * SECTOR;
    this.grainBytes = header.grainSectors * SECTOR;
  }

  /** Opens a hosted sparse, a COWD or an seSparse extent, whichever its magic says. */
  static async open(path: string, source: FileSource = localFiles): Promise<SparseExtent> {
    const file = await source.open(path);
    try {
      const head = await file.read(0, COWD_HEADER_BYTES);
      const cowd = head.readUInt32LE(0) === COWD_MAGIC;
      const seSparse = head.readBigUInt64LE(0) === SESPARSE_MAGIC;
      const label = cowd ? `VMFS sparse (COWD) extent ${path}` : seSparse ? `seSparse extent ${path}` : `VMDK sparse extent ${path}`;
      let header: SparseHeader;
      if (cowd) header = parseCowdHeader(head, file.size, label);
      else if (seSparse) {
        const layout = parseSeSparseHeader(head, file.size, label);
        checkSeSparseVolatileHeader(await file.read(layout.volatileSector * SECTOR, SECTOR), label);
        header = seSparseHeader(layout);
      } else {
        const atEnd = head.readBigUInt64LE(56) === GD_AT_END;
        header = parseSparseHeader(atEnd ? await footerHeader(file, label) : head.subarray(0, SECTOR), file.size, label);
      }
      const entryBytes = header.seSparse ? 8 : 4;
      const raw = await file.read(header.gdSector * SECTOR, header.gdEntries * entryBytes);
      const directory = new Float64Array(header.gdEntries);
      for (let i = 0; i < header.gdEntries; i++)
        directory[i] = header.seSparse ? seSparseTableSector(raw, i, header.seSparse, label) : raw.readUInt32LE(i * 4);
      return new SparseExtent(file, header, directory, label);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** A streamOptimized grain: its marker, then its deflated bytes, inflated to one grain. */
  private async compressedGrain(grainIndex: number, sector: number): Promise<Buffer> {
    const bad = (why: string): never => {
      throw new LifeboatError('corrupt-disk', `${this.description}: compressed grain ${grainIndex} at sector ${sector} ${why}`);
    };
    const marker = await this.file.read(sector * SECTOR, GRAIN_MARKER_BYTES);
    const size = marker.readUInt32LE(8);
    if (marker.readBigUInt64LE(0) !== BigInt(grainIndex * this.header.grainSectors))
      bad(`is marked for sector ${marker.readBigUInt64LE(0)}`);
    // Deflate may grow incompressible data a little, never to twice its size.
    if (size === 0 || size > 2 * this.grainBytes || sector * SECTOR + GRAIN_MARKER_BYTES + size > this.file.size)
      bad(`claims ${size} bytes`);
    let grain: Buffer;
    try {
      grain = inflateSync(await this.file.read(sector * SECTOR + GRAIN_MARKER_BYTES, size), { maxOutputLength: this.grainBytes });
    } catch {
      return bad('does not inflate to one grain');
    }
    // The last grain of a disk may be stored short; what it leaves out reads as zeros.
    if (grain.length === this.grainBytes) return grain;
    const whole = Buffer.alloc(this.grainBytes);
    grain.copy(whole);
    return whole;
  }

  private async grainTable(tableIndex: number): Promise<Float64Array | null> {
    const cached = this.tables.get(tableIndex);
    if (cached) return cached;
    const sector = this.directory[tableIndex] ?? 0;
    if (sector === 0) return null;
    const seSparse = this.header.seSparse;
    const bytes = this.header.gtesPerGt * (seSparse ? 8 : 4);
    if (sector * SECTOR + bytes > this.file.size) {
      throw new LifeboatError('corrupt-disk', `${this.description}: grain table ${tableIndex} at sector ${sector} lies outside the file`);
    }
    const raw = await this.file.read(sector * SECTOR, bytes);
    const table = new Float64Array(this.header.gtesPerGt);
    const zeroedGrains = (this.header.flags & FLAG_ZEROED_GRAIN_GTE) !== 0;
    for (let i = 0; i < table.length; i++) {
      if (seSparse) table[i] = seSparseGrainSector(raw, i, seSparse, this.description);
      else {
        const entry = raw.readUInt32LE(i * 4);
        table[i] = entry === 1 && zeroedGrains ? ZEROED : entry;
      }
    }
    this.tables.set(tableIndex, table);
    return table;
  }

  /** The descriptor a monolithicSparse file carries inside it, or null when it has none. */
  async embeddedDescriptor(): Promise<string | null> {
    if (this.header.descriptorSector === 0 || this.header.descriptorSectors === 0) return null;
    const raw = await this.file.read(this.header.descriptorSector * SECTOR, this.header.descriptorSectors * SECTOR);
    const end = raw.indexOf(0);
    return raw.subarray(0, end === -1 ? raw.length : end).toString('latin1');
  }

  /** File sector of a grain, ABSENT when nobody wrote it, ZEROED when it was written as zeros. */
  private async grainSector(grainIndex: number): Promise<number> {
    const table = await this.grainTable(Math.floor(grainIndex / this.header.gtesPerGt));
    return table ? this.entrySector(table, grainIndex) : ABSENT;
  }

  /** What a loaded grain table says of one of its grains (see grainSector). */
  private entrySector(table: Float64Array, grainIndex: number): number {
    const sector = table[grainIndex % this.header.gtesPerGt] ?? ABSENT;
    if (sector > 0 && sector * SECTOR >= this.file.size) {
      throw new LifeboatError('corrupt-disk', `${this.description}: grain ${grainIndex} at sector ${sector} lies outside the file`);
    }
    return sector;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const position = offset + done;
      const grainIndex = Math.floor(position / this.grainBytes);
      const within = position - grainIndex * this.grainBytes;
      // Coalesce grains that sit back to back in the file into one read.
      const first = await this.grainSector(grainIndex);
      let span = Math.min(this.grainBytes - within, length - done);
      let next = grainIndex + 1;
      while (first > 0 && !this.header.compressed && done + span < length) {
        const sector = await this.grainSector(next);
        if (sector !== first + (next - grainIndex) * this.header.grainSectors) break;
        span += Math.min(this.grainBytes, length - done - span);
        next++;
      }
      if (first > 0 && this.header.compressed) (await this.compressedGrain(grainIndex, first)).copy(out, done, within, within + span);
      else if (first > 0) await this.file.readInto(out, done, span, first * SECTOR + within);
      done += span;
    }
    return out;
  }

  async runs(offset: number, length: number): Promise<Run[]> {
    checkRange(this, offset, length);
    const runs: Run[] = [];
    const end = offset + length;
    let position = offset;
    while (position < end) {
      // One grain table at a time, its entries read without awaiting: COWD grains are 512 bytes.
      const tableIndex = Math.floor(position / this.grainBytes / this.header.gtesPerGt);
      const tableEnd = Math.min((tableIndex + 1) * this.header.gtesPerGt * this.grainBytes, end);
      const table = await this.grainTable(tableIndex);
      if (!table) {
        pushRun(runs, 'parent', tableEnd - position); // a missing table leaves all its grains to the parent
        position = tableEnd;
        continue;
      }
      while (position < tableEnd) {
        const grainIndex = Math.floor(position / this.grainBytes);
        const span = Math.min((grainIndex + 1) * this.grainBytes, tableEnd) - position;
        const sector = this.entrySector(table, grainIndex);
        pushRun(runs, sector === ABSENT ? 'parent' : sector === ZEROED ? 'zero' : 'data', span);
        position += span;
      }
    }
    return runs;
  }

  /** Read on its own (a chain reads its layers' runs instead): what it leaves to a parent is zeros. */
  extents(offset: number, length: number): Promise<Extent[]> {
    return layerExtents(this, offset, length);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** The header a streamOptimized file keeps in its footer when the one at the start says
 * GD_AT_END: footer marker, header copy, end-of-stream marker, one sector each, at the end. */
async function footerHeader(file: SourceFile, label: string): Promise<Buffer> {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `${label}: not a usable VMDK sparse extent (${why})`);
  };
  if (file.size < 4 * SECTOR) bad('its grain directory is at the end, but the file has no footer');
  const tail = await file.read(file.size - 3 * SECTOR, 3 * SECTOR);
  const marker = (at: number, type: number): boolean =>
    tail.readBigUInt64LE(at) === 0n && tail.readUInt32LE(at + 8) === 0 && tail.readUInt32LE(at + 12) === type;
  if (!marker(0, MARKER_FOOTER) || !marker(2 * SECTOR, MARKER_END_OF_STREAM))
    bad('its grain directory is at the end, but the footer and end-of-stream markers are not there');
  return tail.subarray(SECTOR, 2 * SECTOR);
}
