// Partition tables of a disk read without restoring it: GPT (header and entry CRCs checked,
// the backup header used when the primary is damaged) and MBR with extended/logical partitions.
import { crc32 } from 'node:zlib';
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';

export type Partition = { index: number; start: number; size: number; type: string; name: string };
export type PartitionTable = { scheme: 'gpt' | 'mbr' | 'none'; partitions: Partition[]; warnings: string[] };

const SECTOR = 512;
const MAX_GPT_ENTRIES = 1024;
const MAX_LOGICAL = 128;

function guid(bytes: Buffer, at: number): string {
  const hex = (from: number, to: number, reverse: boolean): string => {
    const part = Buffer.from(bytes.subarray(at + from, at + to));
    return (reverse ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`.toUpperCase();
}

type GptHeader = { entriesLba: number; count: number; entrySize: number; entriesCrc: number };

/** Parses a GPT header sector; null when it is not a valid one. */
export function parseGptHeader(sector: Buffer, diskSectors: number): GptHeader | null {
  if (sector.length < SECTOR || sector.toString('latin1', 0, 8) !== 'EFI PART') return null;
  const headerSize = sector.readUInt32LE(12);
  if (headerSize < 92 || headerSize > SECTOR) return null;
  const copy = Buffer.from(sector.subarray(0, headerSize));
  const stored = copy.readUInt32LE(16);
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== stored) return null;
  const entriesLba = Number(sector.readBigUInt64LE(72));
  const count = sector.readUInt32LE(80);
  const entrySize = sector.readUInt32LE(84);
  if (count > MAX_GPT_ENTRIES || entrySize < 128 || entrySize > 1024 || entrySize % 8 !== 0) return null;
  if (!Number.isSafeInteger(entriesLba) || entriesLba < 1 || entriesLba + Math.ceil((count * entrySize) / SECTOR) > diskSectors)
    return null;
  return { entriesLba, count, entrySize, entriesCrc: sector.readUInt32LE(88) };
}

export function parseGptEntries(entries: Buffer, header: GptHeader, diskSectors: number): Partition[] {
  if (crc32(entries.subarray(0, header.count * header.entrySize)) !== header.entriesCrc) {
    throw new LifeboatError('corrupt-disk', 'GPT partition entries do not match their CRC');
  }
  const partitions: Partition[] = [];
  for (let i = 0; i < header.count; i++) {
    const at = i * header.entrySize;
    if (entries.subarray(at, at + 16).every((byte) => byte === 0)) continue;
    const first = Number(entries.readBigUInt64LE(at + 32));
    const last = Number(entries.readBigUInt64LE(at + 40));
    if (!Number.isSafeInteger(last) || first > last || last >= diskSectors) continue;
    const name = entries.toString('utf16le', at + 56, at + Math.min(128, header.entrySize)).replace(/\0.*$/s, '');
    partitions.push({ index: i + 1, start: first * SECTOR, size: (last - first + 1) * SECTOR, type: guid(entries, at), name });
  }
  return partitions;
}

async function readGpt(disk: Disk, warnings: string[]): Promise<Partition[] | null> {
  const sectors = Math.floor(disk.capacity / SECTOR);
  for (const [lba, which] of [
    [1, 'primary'],
    [sectors - 1, 'backup'],
  ] as const) {
    if (lba < 1 || lba >= sectors) continue;
    const header = parseGptHeader(await disk.read(lba * SECTOR, SECTOR), sectors);
    if (!header) {
      if (which === 'primary') warnings.push('primary GPT header is damaged; trying the backup header');
      continue;
    }
    try {
      return parseGptEntries(
        await disk.read(header.entriesLba * SECTOR, Math.ceil((header.count * header.entrySize) / SECTOR) * SECTOR),
        header,
        sectors,
      );
    } catch (error) {
      warnings.push(`${which} GPT: ${(error as Error).message}`);
    }
  }
  return null;
}

/** MBR primary partitions, and logical ones through the chain of extended boot records. */
export async function readMbr(disk: Disk, first: Buffer, warnings: string[]): Promise<Partition[]> {
  const partitions: Partition[] = [];
  const sectors = Math.floor(disk.capacity / SECTOR);
  const entry = (sector: Buffer, slot: number) => ({
    type: sector[446 + slot * 16 + 4] as number,
    lba: sector.readUInt32LE(446 + slot * 16 + 8),
    count: sector.readUInt32LE(446 + slot * 16 + 12),
  });
  const fits = (lba: number, count: number): boolean => count > 0 && lba > 0 && lba + count <= sectors;
  for (let slot = 0; slot < 4; slot++) {
    const { type, lba, count } = entry(first, slot);
    if (type === 0 || !fits(lba, count)) continue;
    if (type === 0x05 || type === 0x0f || type === 0x85) {
      const seen = new Set<number>();
      let ebr = lba;
      for (let logical = 0; logical < MAX_LOGICAL; logical++) {
        if (seen.has(ebr)) {
          warnings.push('extended partition chain loops; stopped');
          break;
        }
        seen.add(ebr);
        const sector = await disk.read(ebr * SECTOR, SECTOR);
        if (sector.readUInt16LE(510) !== 0xaa55) {
          warnings.push(`extended boot record at sector ${ebr} has no signature`);
          break;
        }
        const own = entry(sector, 0);
        if (own.type !== 0 && fits(ebr + own.lba, own.count)) {
          partitions.push({
            index: 5 + logical,
            start: (ebr + own.lba) * SECTOR,
            size: own.count * SECTOR,
            type: own.type.toString(16).padStart(2, '0'),
            name: '',
          });
        }
        const next = entry(sector, 1);
        if (next.type === 0 || next.lba === 0) break;
        ebr = lba + next.lba;
        if (ebr >= sectors) break;
      }
      continue;
    }
    partitions.push({ index: slot + 1, start: lba * SECTOR, size: count * SECTOR, type: type.toString(16).padStart(2, '0'), name: '' });
  }
  return partitions;
}

export async function readPartitionTable(disk: Disk): Promise<PartitionTable> {
  const warnings: string[] = [];
  if (disk.capacity < 2 * SECTOR) return { scheme: 'none', partitions: [], warnings };
  const first = await disk.read(0, SECTOR);
  const hasMbr = first.readUInt16LE(510) === 0xaa55;
  const protective = hasMbr && [0, 1, 2, 3].some((slot) => first[446 + slot * 16 + 4] === 0xee);
  if (protective || !hasMbr) {
    const gpt = await readGpt(disk, warnings);
    if (gpt) return { scheme: 'gpt', partitions: gpt, warnings };
    if (protective) warnings.push('the disk says it is GPT but neither GPT header is usable');
  }
  if (hasMbr && !protective) return { scheme: 'mbr', partitions: await readMbr(disk, first, warnings), warnings };
  return { scheme: 'none', partitions: [], warnings };
}
