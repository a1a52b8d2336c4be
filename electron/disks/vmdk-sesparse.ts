// ESXi's seSparse delta (VMFS6 snapshots): a constant header, a volatile header, a grain
// directory of 64-bit entries naming grain tables by index, and 64-bit grain table entries whose
// top nibble says unallocated / unmapped / zero / allocated. VMware does not document the format;
// this follows what qemu reads (block/vmdk.c), with the same strict checks.
import { LifeboatError } from '../errors.ts';
import { SECTOR } from './disk.ts';
import { ABSENT_GRAIN, ZEROED_GRAIN } from './layer.ts';

export const SESPARSE_MAGIC = 0xcafebaben; // the constant header's first 8 bytes, little-endian
const VOLATILE_MAGIC = 0xcafecafen;
const VERSION = 0x200000001n;
const GRAIN_SECTORS = 8; // 4 KiB grains
const TABLE_SECTORS = 64; // 4096 entries of 8 bytes
export const SESPARSE_GTES_PER_GT = (TABLE_SECTORS * SECTOR) / 8;
const TABLE_ALLOCATED = 0x10000000; // high word of a grain directory entry for an allocated table

export type SeSparseLayout = {
  capacitySectors: number;
  grainSectors: number;
  gdSector: number;
  gdEntries: number;
  volatileSector: number;
  tablesSector: number;
  grainsSector: number;
};

/** Validates the 512-byte constant header against the file; throws corrupt-disk on any lie. */
export function parseSeSparseHeader(header: Buffer, fileSize: number, label: string): SeSparseLayout {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `${label}: not a usable seSparse extent (${why})`);
  };
  if (header.length < SECTOR) bad('header is shorter than 512 bytes');
  const field = (index: number): bigint => header.readBigUInt64LE(index * 8);
  if (field(0) !== SESPARSE_MAGIC) bad('no seSparse magic');
  if (field(1) !== VERSION) bad(`version 0x${field(1).toString(16)} is unknown`);
  if (field(3) !== BigInt(GRAIN_SECTORS) || field(4) !== BigInt(TABLE_SECTORS))
    bad(`grains of ${field(3)} sectors in tables of ${field(4)} sectors`);
  if (field(5) !== 0n) bad(`flags 0x${field(5).toString(16)} are unknown`);
  if ([6, 7, 8, 9].some((index) => field(index) !== 0n) || header.subarray(208, SECTOR).some((byte) => byte !== 0))
    bad('reserved bytes are set');
  const sectors = (index: number, what: string): number => {
    const value = Number(field(index));
    if (!Number.isSafeInteger(value * SECTOR) || value * SECTOR > fileSize) bad(`${what} lies outside the file`);
    return value;
  };
  const capacitySectors = Number(field(2));
  if (!Number.isSafeInteger(capacitySectors * SECTOR)) bad('capacity is out of range');
  const volatileSector = sectors(10, 'volatile header');
  const gdSector = sectors(16, 'grain directory');
  const gdSectors = sectors(17, 'grain directory');
  const tablesSector = sectors(18, 'grain tables');
  const grainsSector = sectors(24, 'grains');
  const gdEntries = Math.ceil(capacitySectors / (GRAIN_SECTORS * SESPARSE_GTES_PER_GT));
  if ((gdSectors * SECTOR) / 8 < gdEntries) bad(`grain directory has ${(gdSectors * SECTOR) / 8} entries, the capacity needs ${gdEntries}`);
  if ((gdSector + gdSectors) * SECTOR > fileSize || (volatileSector + 1) * SECTOR > fileSize) bad('grain directory lies outside the file');
  return { capacitySectors, grainSectors: GRAIN_SECTORS, gdSector, gdEntries, volatileSector, tablesSector, grainsSector };
}

/** The volatile header must be there and clean: a journal left to replay means the delta is
 * not consistent on disk. */
export function checkSeSparseVolatileHeader(header: Buffer, label: string): void {
  if (header.readBigUInt64LE(0) !== VOLATILE_MAGIC)
    throw new LifeboatError('corrupt-disk', `${label}: not a usable seSparse extent (no volatile header magic)`);
  if (header.readBigUInt64LE(24) !== 0n)
    throw new LifeboatError(
      'corrupt-disk',
      `${label}: the seSparse journal needs replaying (the delta was not closed cleanly); power the VM on and off in ESXi first`,
    );
}

/** File sector of the grain table a directory entry names, or 0 when it names none. */
export function seSparseTableSector(raw: Buffer, index: number, layout: SeSparseLayout, label: string): number {
  const low = raw.readUInt32LE(index * 8);
  const high = raw.readUInt32LE(index * 8 + 4);
  if (low === 0 && high === 0) return 0;
  if (high !== TABLE_ALLOCATED)
    throw new LifeboatError(
      'corrupt-disk',
      `${label}: grain directory entry ${index} is 0x${high.toString(16)}${low.toString(16).padStart(8, '0')}`,
    );
  return layout.tablesSector + low * TABLE_SECTORS;
}

/** File sector of a grain, ABSENT_GRAIN or ZEROED_GRAIN, from a grain table entry. */
export function seSparseGrainSector(raw: Buffer, index: number, layout: SeSparseLayout, label: string): number {
  const low = raw.readUInt32LE(index * 8);
  const high = raw.readUInt32LE(index * 8 + 4);
  const type = high >>> 28;
  if (type === 0 && low === 0 && high === 0) return ABSENT_GRAIN;
  if (type === 1 || type === 2) return ZEROED_GRAIN; // unmapped by the guest, or zeroed
  if (type !== 3) throw new LifeboatError('corrupt-disk', `${label}: grain table entry ${index} has type ${type}`);
  // The grain's number is stored rotated: its low 12 bits sit in bits 48-59.
  const grain = ((high >>> 16) & 0xfff) + ((high & 0xffff) * 2 ** 32 + low) * 4096;
  const sector = layout.grainsSector + grain * layout.grainSectors;
  if (!Number.isSafeInteger(sector * SECTOR))
    throw new LifeboatError('corrupt-disk', `${label}: grain table entry ${index} points out of range`);
  return sector;
}
