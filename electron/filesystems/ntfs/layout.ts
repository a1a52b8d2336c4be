// NTFS on-disk structures, parsed from outside bytes (every offset and length checked):
//
// Boot sector: "NTFS    " at 3, bytes per sector u16 at 11, sectors per cluster u8 at 13 (above
// 0x80: 2^(256-n) sectors), total sectors u64 at 40, $MFT cluster u64 at 48, clusters per MFT
// record s8 at 64 and per index block s8 at 68 (negative: 2^-n bytes).
// Multi-sector records (FILE, INDX): update sequence offset u16 at 4, count u16 at 6; the last two
// bytes of every 512-byte stride hold the sequence number and are restored from the array. The
// stride is 512 bytes whatever the sector size (ntfs-3g's NTFS_BLOCK_SIZE): a 4 KiB record has
// 8 strides, 9 array entries.
// FILE record: sequence u16 at 16, link count u16 at 18, first attribute u16 at 20, flags u16 at
// 22 (1 in use, 2 directory), base record reference u64 at 32.
// Attribute: type u32, length u32, non-resident u8 at 8, name length u8 at 9 (UTF-16 units), name
// offset u16 at 10, flags u16 at 12 (0x00ff compressed, 0x4000 encrypted, 0x8000 sparse).
// Resident: value length u32 at 16, value offset u16 at 20. Non-resident: start VCN u64 at 16,
// runlist offset u16 at 32, data size u64 at 48, initialized size u64 at 56.
// Index entry: file reference u64 (record number in the low 48 bits, sequence number above),
// length u16 at 8, key length u16 at 10, flags u16 at 12 (1 has a subnode, 2 last); the key is a
// $FILE_NAME value: parent reference u64, name length u8 at 64, namespace u8 at 65 (0 POSIX,
// 1 Win32, 2 DOS, 3 Win32+DOS), name at 66. Its times and sizes are copies that Windows updates
// lazily: sizes, times and flags are read from the file's own record instead.
import { LifeboatError } from '../../errors.ts';

export const ATTR_STANDARD_INFORMATION = 0x10;
export const ATTR_LIST = 0x20;
export const ATTR_FILE_NAME = 0x30;
export const ATTR_VOLUME_NAME = 0x60;
export const ATTR_VOLUME_INFORMATION = 0x70;
export const ATTR_DATA = 0x80;
export const ATTR_INDEX_ROOT = 0x90;
export const ATTR_INDEX_ALLOCATION = 0xa0;
export const ATTR_BITMAP = 0xb0;
export const ATTR_REPARSE_POINT = 0xc0;

export const FLAG_COMPRESSED = 0x00ff;
export const FLAG_ENCRYPTED = 0x4000;
export const NAMESPACE_DOS = 2;
/** The update sequence covers the record in 512-byte strides, whatever the sector size. */
const STRIDE = 512;
const MAX_RUNS = 100_000;
const FILETIME_EPOCH = 11_644_473_600_000; // ms between 1601-01-01 and 1970-01-01

export const corrupt = (why: string): never => {
  throw new LifeboatError('corrupt-disk', why);
};
const bad = (why: string): never => corrupt(`not a usable NTFS file system (${why})`);

export type NtfsGeometry = {
  sectorBytes: number;
  clusterBytes: number;
  mftOffset: number;
  recordBytes: number;
  indexBytes: number;
  totalBytes: number;
};

export function parseNtfsBootSector(boot: Buffer, volumeBytes: number): NtfsGeometry {
  if (boot.length < 512 || boot.toString('latin1', 3, 11) !== 'NTFS    ') bad('no NTFS signature');
  const sectorBytes = boot.readUInt16LE(11);
  if (![512, 1024, 2048, 4096].includes(sectorBytes)) bad(`sector size ${sectorBytes}`);
  const rawCluster = boot[13] as number;
  const clusterBytes = rawCluster > 0x80 ? sectorBytes * 2 ** (256 - rawCluster) : sectorBytes * rawCluster;
  if (clusterBytes < sectorBytes || clusterBytes > 2 * 1024 * 1024) bad(`cluster size ${clusterBytes}`);
  const sizeOf = (value: number): number => (value >= 0x80 ? 2 ** (256 - value) : value * clusterBytes);
  const recordBytes = sizeOf(boot[64] as number);
  const indexBytes = sizeOf(boot[68] as number);
  if (recordBytes < 512 || recordBytes > 65536 || indexBytes < 512 || indexBytes > 65536) bad('record sizes');
  if (recordBytes % STRIDE !== 0 || indexBytes % STRIDE !== 0) bad('record sizes are not whole 512-byte strides');
  const totalBytes = Number(boot.readBigUInt64LE(40)) * sectorBytes;
  const mftOffset = Number(boot.readBigUInt64LE(48)) * clusterBytes;
  if (!Number.isSafeInteger(mftOffset) || mftOffset <= 0 || mftOffset + recordBytes > volumeBytes) bad('the MFT lies outside the volume');
  return { sectorBytes, clusterBytes, mftOffset, recordBytes, indexBytes, totalBytes };
}

/** Applies the update sequence: the last two bytes of every 512-byte stride come back from the
 * array. The whole record must be covered (count - 1 strides), as ntfs-3g requires. */
export function applyFixups(record: Buffer, signature: string): Buffer {
  if (record.toString('latin1', 0, 4) !== signature) corrupt(`NTFS ${signature} record without its signature`);
  const offset = record.readUInt16LE(4);
  const count = record.readUInt16LE(6);
  if (count < 2 || offset + count * 2 > record.length || (count - 1) * STRIDE !== record.length)
    corrupt(`NTFS ${signature} record has a damaged update sequence`);
  const usn = record.readUInt16LE(offset);
  for (let i = 1; i < count; i++) {
    const end = i * STRIDE - 2;
    if (record.readUInt16LE(end) !== usn) corrupt(`NTFS ${signature} record is torn (stride ${i} does not match its update sequence)`);
    record.writeUInt16LE(record.readUInt16LE(offset + i * 2), end);
  }
  return record;
}

export type Run = { vcn: number; lcn: number | null; length: number };

/** Decodes a runlist; a run with no offset is sparse (lcn null). */
export function decodeRuns(bytes: Buffer, at: number, startVcn: number): Run[] {
  const runs: Run[] = [];
  let vcn = startVcn;
  let lcn = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    const header = bytes[at] as number;
    const lengthSize = header & 0x0f;
    const offsetSize = header >> 4;
    if (lengthSize === 0 || lengthSize > 8 || offsetSize > 8 || at + 1 + lengthSize + offsetSize > bytes.length)
      corrupt('NTFS runlist is damaged');
    let length = 0;
    for (let i = lengthSize - 1; i >= 0; i--) length = length * 256 + (bytes[at + 1 + i] as number);
    let offset = 0;
    if (offsetSize > 0) {
      for (let i = offsetSize - 1; i >= 0; i--) offset = offset * 256 + (bytes[at + 1 + lengthSize + i] as number);
      if ((bytes[at + lengthSize + offsetSize] as number) & 0x80) offset -= 2 ** (8 * offsetSize);
      lcn += offset;
    }
    if (!Number.isSafeInteger(length) || length <= 0 || lcn < 0 || !Number.isSafeInteger(vcn + length))
      corrupt('NTFS runlist has an impossible run');
    runs.push({ vcn, lcn: offsetSize > 0 ? lcn : null, length });
    vcn += length;
    at += 1 + lengthSize + offsetSize;
    if (runs.length > MAX_RUNS) corrupt('NTFS runlist is too long');
  }
  return runs;
}

export type Attribute = {
  type: number;
  name: string;
  flags: number;
  resident: Buffer | null;
  runs: Run[];
  dataSize: number;
  initializedSize: number;
  startVcn: number;
};

export type RecordHeader = { sequence: number; links: number; flags: number; baseRecord: number };

export function parseRecordHeader(record: Buffer): RecordHeader {
  if (record.length < 48) corrupt('NTFS FILE record is too short');
  return {
    sequence: record.readUInt16LE(16),
    links: record.readUInt16LE(18),
    flags: record.readUInt16LE(22),
    baseRecord: Number(record.readBigUInt64LE(32) & 0xffffffffffffn),
  };
}

/** Records named in an $ATTRIBUTE_LIST value (the file's attributes that live elsewhere). */
export function parseAttributeList(value: Buffer): number[] {
  const records = new Set<number>();
  for (let at = 0, guard = 0; at + 26 <= value.length && guard < 65536; guard++) {
    const length = value.readUInt16LE(at + 4);
    if (length < 26 || at + length > value.length) corrupt('NTFS attribute list is damaged');
    records.add(Number(value.readBigUInt64LE(at + 16) & 0xffffffffffffn));
    at += length;
  }
  return [...records];
}

export function parseAttributes(record: Buffer): Attribute[] {
  const attributes: Attribute[] = [];
  let at = record.readUInt16LE(20);
  for (let guard = 0; guard < 512 && at + 16 <= record.length; guard++) {
    const type = record.readUInt32LE(at);
    if (type === 0xffffffff) break;
    const length = record.readUInt32LE(at + 4);
    if (length < 16 || at + length > record.length) corrupt('NTFS attribute runs past its record');
    const nameLength = record[at + 9] as number;
    const nameOffset = record.readUInt16LE(at + 10);
    if (nameOffset + nameLength * 2 > length) corrupt('NTFS attribute name runs past its attribute');
    const name = record.toString('utf16le', at + nameOffset, at + nameOffset + nameLength * 2);
    const flags = record.readUInt16LE(at + 12);
    const resident = (record[at + 8] as number) === 0;
    if (length < (resident ? 24 : 64)) corrupt('NTFS attribute is shorter than its header');
    if (resident) {
      const valueLength = record.readUInt32LE(at + 16);
      const valueOffset = record.readUInt16LE(at + 20);
      if (valueOffset + valueLength > length) corrupt('NTFS resident value runs past its attribute');
      const value = record.subarray(at + valueOffset, at + valueOffset + valueLength);
      attributes.push({ type, name, flags, resident: value, runs: [], dataSize: valueLength, initializedSize: valueLength, startVcn: 0 });
    } else {
      const runsOffset = record.readUInt16LE(at + 32);
      const dataSize = Number(record.readBigUInt64LE(at + 48));
      const initializedSize = Number(record.readBigUInt64LE(at + 56));
      const startVcn = Number(record.readBigUInt64LE(at + 16));
      if (!Number.isSafeInteger(dataSize) || !Number.isSafeInteger(startVcn) || runsOffset >= length)
        corrupt('NTFS non-resident attribute is damaged');
      attributes.push({
        type,
        name,
        flags,
        resident: null,
        runs: decodeRuns(record.subarray(at, at + length), runsOffset, startVcn),
        dataSize,
        initializedSize: Math.min(initializedSize, dataSize),
        startVcn,
      });
    }
    at += length;
  }
  return attributes;
}

export function fileTime(value: bigint): Date {
  return new Date(Number(value / 10_000n) - FILETIME_EPOCH);
}

/** A $FILE_NAME value: the name and its namespace (2 = a DOS 8.3 alias). */
export function parseFileName(value: Buffer): { name: string; namespace: number; parent: number } {
  if (value.length < 66 || 66 + (value[64] as number) * 2 > value.length) corrupt('NTFS $FILE_NAME attribute is damaged');
  return {
    parent: Number(value.readBigUInt64LE(0) & 0xffffffffffffn),
    namespace: value[65] as number,
    name: value.toString('utf16le', 66, 66 + (value[64] as number) * 2),
  };
}

/** $STANDARD_INFORMATION: modification time at 8, file attributes at 32. */
export function parseStandardInformation(value: Buffer): { mtime: Date; attributes: number } {
  if (value.length < 36) corrupt('NTFS $STANDARD_INFORMATION is too short');
  return { mtime: fileTime(value.readBigUInt64LE(8)), attributes: value.readUInt32LE(32) };
}

export type IndexEntry = {
  record: number;
  /** The sequence number the entry expects of its record (0: not checked). */
  sequence: number;
  name: string;
  namespace: number;
};

/** Entries of an index node (in $INDEX_ROOT or an INDX block), starting at its node header. */
export function parseIndexEntries(bytes: Buffer, nodeHeader: number): IndexEntry[] {
  const entries: IndexEntry[] = [];
  if (nodeHeader + 8 > bytes.length) corrupt('NTFS index node header runs past its block');
  const first = nodeHeader + bytes.readUInt32LE(nodeHeader);
  const end = Math.min(bytes.length, nodeHeader + bytes.readUInt32LE(nodeHeader + 4));
  for (let at = first, guard = 0; at + 16 <= end && guard < 65536; guard++) {
    const length = bytes.readUInt16LE(at + 8);
    const keyLength = bytes.readUInt16LE(at + 10);
    const flags = bytes.readUInt16LE(at + 12);
    if (flags & 0x2) break; // the last entry carries no key
    if (length < 16 || at + length > end || keyLength < 66 || 16 + keyLength > length) corrupt('NTFS index entry is damaged');
    const key = at + 16;
    const nameLength = bytes[key + 64] as number;
    if (66 + nameLength * 2 > keyLength) corrupt('NTFS index entry name runs past its key');
    const reference = bytes.readBigUInt64LE(at);
    entries.push({
      record: Number(reference & 0xffffffffffffn),
      sequence: Number(reference >> 48n),
      name: bytes.toString('utf16le', key + 66, key + 66 + nameLength * 2),
      namespace: bytes[key + 65] as number,
    });
    at += length;
  }
  return entries;
}
