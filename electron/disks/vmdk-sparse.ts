// Reader for VMware's hosted sparse extent ("KDMV", monolithicSparse and twoGbMaxExtentSparse):
// a grain directory points at grain tables, which point at grains. Compressed (streamOptimized)
// extents are refused with a clear error rather than misread.
import { LifeboatError } from '../errors.ts';
import { checkRange, SECTOR, type Disk } from './disk.ts';
import { FileReader } from './file-reader.ts';

export const SPARSE_MAGIC = 0x564d444b; // "KDMV" read little-endian
const FLAG_ZEROED_GRAIN_GTE = 1 << 2;
const FLAG_COMPRESSED = 1 << 16;
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
  if (flags & FLAG_COMPRESSED) bad('compressed grains (streamOptimized) are not supported; convert with qemu-img first');
  const capacitySectors = Number(header.readBigUInt64LE(12));
  const grainSectors = Number(header.readBigUInt64LE(20));
  const gtesPerGt = header.readUInt32LE(44);
  const gdSector = Number(header.readBigUInt64LE(56));
  if (!Number.isSafeInteger(capacitySectors) || capacitySectors * SECTOR > Number.MAX_SAFE_INTEGER) bad('capacity is out of range');
  if (grainSectors < 1 || grainSectors > MAX_GRAIN_SECTORS || (grainSectors & (grainSectors - 1)) !== 0) bad(`grain size ${grainSectors} sectors`);
  if (gtesPerGt < 1 || gtesPerGt > MAX_GTES_PER_GT) bad(`${gtesPerGt} entries per grain table`);
  const sectorsPerGt = grainSectors * gtesPerGt;
  const gdEntries = Math.ceil(capacitySectors / sectorsPerGt);
  if (!Number.isSafeInteger(gdSector) || gdSector === 0 || (gdSector * SECTOR + gdEntries * 4 > fileSize && gdEntries > 0)) {
    bad('grain directory lies outside the file');
  }
  return { version, flags, capacitySectors, grainSectors, gtesPerGt, gdSector, gdEntries };
}

export class SparseExtent implements Disk {
  readonly capacity: number;
  private readonly grainBytes: number;
  private readonly tables = new Map<number, Uint32Array>();

  private readonly file: FileReader;
  private readonly header: SparseHeader;
  private readonly directory: Uint32Array;
  readonly description: string;

  private constructor(file: FileReader, header: SparseHeader, directory: Uint32Array, description: string) {
    this.file = file;
    this.header = header;
    this.directory = directory;
    this.description = description;
    this.capacity = header.capacitySectors * SECTOR;
    this.grainBytes = header.grainSectors * SECTOR;
  }

  static async open(path: string): Promise<SparseExtent> {
    const file = await FileReader.open(path);
    try {
      const label = `VMDK sparse extent ${path}`;
      const header = parseSparseHeader(await file.read(0, SECTOR), file.size, label);
      const raw = await file.read(header.gdSector * SECTOR, header.gdEntries * 4);
      const directory = new Uint32Array(header.gdEntries);
      for (let i = 0; i < header.gdEntries; i++) directory[i] = raw.readUInt32LE(i * 4);
      return new SparseExtent(file, header, directory, label);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  private async grainTable(tableIndex: number): Promise<Uint32Array | null> {
    const cached = this.tables.get(tableIndex);
    if (cached) return cached;
    const sector = this.directory[tableIndex] ?? 0;
    if (sector === 0) return null;
    const bytes = this.header.gtesPerGt * 4;
    if (sector * SECTOR + bytes > this.file.size) {
      throw new LifeboatError('corrupt-disk', `${this.description}: grain table ${tableIndex} at sector ${sector} lies outside the file`);
    }
    const raw = await this.file.read(sector * SECTOR, bytes);
    const table = new Uint32Array(this.header.gtesPerGt);
    for (let i = 0; i < table.length; i++) table[i] = raw.readUInt32LE(i * 4);
    this.tables.set(tableIndex, table);
    return table;
  }

  /** File sector of a grain, or 0 when the grain reads as zeros. */
  private async grainSector(grainIndex: number): Promise<number> {
    const table = await this.grainTable(Math.floor(grainIndex / this.header.gtesPerGt));
    if (!table) return 0;
    const sector = table[grainIndex % this.header.gtesPerGt] ?? 0;
    if (sector === 1 && this.header.flags & FLAG_ZEROED_GRAIN_GTE) return 0;
    if (sector !== 0 && sector * SECTOR >= this.file.size) {
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
      while (first !== 0 && done + span < length) {
        const sector = await this.grainSector(next);
        if (sector !== first + (next - grainIndex) * this.header.grainSectors) break;
        span += Math.min(this.grainBytes, length - done - span);
        next++;
      }
      if (first !== 0) await this.file.readInto(out, done, span, first * SECTOR + within);
      done += span;
    }
    return out;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
