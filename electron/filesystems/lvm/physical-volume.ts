// An LVM2 physical volume as it lies on its device (lib/format_text/layout.h, lib/label/label.c):
//
//   sector 0..3   label header, 32 bytes: "LABELONE", u64 sector of this label, u32 CRC of the
//                 rest of the 512-byte sector from byte 20, u32 offset of the PV header (32),
//                 "LVM2 001"
//   label + 32    PV header: 32-char uuid (no dashes), u64 device size, then two lists of
//                 { u64 offset, u64 size } areas each ended by a zero pair: data areas (where
//                 extents start, pe_start) and metadata areas (byte offsets on the device)
//   metadata area a 512-byte header: u32 CRC of bytes 4..511, magic " LVM2 x[5A%r0N*>", u32
//                 version 1, u64 start (the area's own offset), u64 size, then raw locations
//                 { u64 offset from the area start, u64 size, u32 CRC of the text, u32 flags }
//                 ended by a zero one. The first is the committed metadata text (a second,
//                 precommitted one may follow during a change: not read).
//   the text      lies in the area after its header as in a ring: when offset + size passes the
//                 area's end, the rest continues right after the 512-byte header.
//
// All numbers are little-endian. Every offset and size is checked against the device before a read.
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import { lvmCrc } from './crc.ts';
import { MAX_TEXT } from './metadata-text.ts';

const SECTOR = 512;
const LABEL_SECTORS = 4;
const LABEL_ID = 'LABELONE';
const LABEL_TYPE = 'LVM2 001';
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
const MDA_HEADER_SIZE = 512;
const MAX_AREAS = 8;
const RAW_LOCN_IGNORED = 0x1;

export type Area = { offset: number; size: number };
export type PvLabel = {
  /** The uuid as the metadata text spells it: 32 characters grouped 6-4-4-4-4-4-6 with dashes. */
  uuid: string;
  deviceSize: number;
  dataAreas: Area[];
  metadataAreas: Area[];
};

const corrupt = (disk: Disk, why: string): LifeboatError =>
  new LifeboatError('corrupt-disk', `${disk.description}: LVM2 physical volume ${why}`);

function u64(bytes: Buffer, at: number): number {
  const value = bytes.readBigUInt64LE(at);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

export function dashedUuid(plain: string): string {
  const groups = [6, 4, 4, 4, 4, 4, 6];
  const parts: string[] = [];
  let at = 0;
  for (const length of groups) {
    parts.push(plain.slice(at, at + length));
    at += length;
  }
  return parts.join('-');
}

/** Where a disk's LVM2 label is, or null when none of sectors 0..3 holds one. */
export async function findPvLabel(disk: Disk): Promise<{ sector: number; bytes: Buffer } | null> {
  if (disk.capacity < LABEL_SECTORS * SECTOR) return null;
  const head = await disk.read(0, LABEL_SECTORS * SECTOR);
  for (let sector = 0; sector < LABEL_SECTORS; sector++) {
    const bytes = head.subarray(sector * SECTOR, (sector + 1) * SECTOR);
    if (bytes.toString('latin1', 0, 8) === LABEL_ID && bytes.toString('latin1', 24, 32) === LABEL_TYPE) return { sector, bytes };
  }
  return null;
}

function readAreas(bytes: Buffer, at: number, disk: Disk, what: string): { areas: Area[]; next: number } {
  const areas: Area[] = [];
  for (let index = 0; ; index++) {
    if (at + 16 > bytes.length) throw corrupt(disk, `${what} list runs past its label sector`);
    const offset = u64(bytes, at);
    const size = u64(bytes, at + 8);
    at += 16;
    if (offset === 0 && size === 0) return { areas, next: at };
    if (index >= MAX_AREAS) throw corrupt(disk, `has more than ${MAX_AREAS} ${what}s`);
    areas.push({ offset, size });
  }
}

/** The PV header of a label sector: uuid, size, data and metadata areas (CRC checked). */
export function parsePvLabel(bytes: Buffer, sector: number, disk: Disk): PvLabel {
  if (bytes.length < SECTOR) throw corrupt(disk, 'label is cut short');
  if (u64(bytes, 8) !== sector) throw corrupt(disk, `label in sector ${sector} says it is in sector ${u64(bytes, 8)}`);
  if (lvmCrc(bytes.subarray(20, SECTOR)) !== bytes.readUInt32LE(16)) throw corrupt(disk, 'label does not match its checksum');
  const headerAt = bytes.readUInt32LE(20);
  if (headerAt < 32 || headerAt + 40 > SECTOR) throw corrupt(disk, `header offset ${headerAt} is outside its label sector`);
  const plain = bytes.toString('latin1', headerAt, headerAt + 32);
  if (!/^[A-Za-z0-9!#]{32}$/.test(plain)) throw corrupt(disk, 'uuid holds characters LVM never writes');
  const deviceSize = u64(bytes, headerAt + 32);
  const data = readAreas(bytes, headerAt + 40, disk, 'data area');
  const metadata = readAreas(bytes, data.next, disk, 'metadata area');
  for (const area of metadata.areas) {
    if (area.size < MDA_HEADER_SIZE || area.offset + area.size > disk.capacity)
      throw corrupt(disk, `metadata area at ${area.offset} (${area.size} bytes) is outside the device (${disk.capacity} bytes)`);
  }
  return { uuid: dashedUuid(plain), deviceSize, dataAreas: data.areas, metadataAreas: metadata.areas };
}

export type MetadataText = { text: string; area: Area };

/** The committed metadata text of one metadata area, or null when the area holds none (an
 * orphan PV, or a copy LVM marked ignored). */
export async function readMetadataText(disk: Disk, area: Area): Promise<MetadataText | null> {
  const header = await disk.read(area.offset, MDA_HEADER_SIZE);
  if (header.toString('latin1', 4, 20) !== MDA_MAGIC) throw corrupt(disk, `metadata area at ${area.offset} has no LVM2 magic`);
  if (lvmCrc(header.subarray(4, MDA_HEADER_SIZE)) !== header.readUInt32LE(0))
    throw corrupt(disk, `metadata area header at ${area.offset} does not match its checksum`);
  if (header.readUInt32LE(20) !== 1) throw corrupt(disk, `metadata area version ${header.readUInt32LE(20)} is not 1`);
  if (u64(header, 24) !== area.offset) throw corrupt(disk, `metadata area at ${area.offset} says it starts at ${u64(header, 24)}`);
  const size = Math.min(u64(header, 32), area.size);
  // raw_locn[0] is the committed text; LVM may keep a precommitted one after it, never read here.
  const at = 40;
  const offset = u64(header, at);
  const length = u64(header, at + 8);
  if (offset === 0 && length === 0) return null;
  if ((header.readUInt32LE(at + 20) & RAW_LOCN_IGNORED) !== 0) return null;
  const ring = size - MDA_HEADER_SIZE;
  if (offset < MDA_HEADER_SIZE || offset >= size || length === 0 || length > ring || length > MAX_TEXT)
    throw corrupt(disk, `metadata text at ${offset} (${length} bytes) does not fit its area of ${size} bytes`);
  const first = Math.min(length, size - offset);
  const parts = [await disk.read(area.offset + offset, first)];
  if (first < length) parts.push(await disk.read(area.offset + MDA_HEADER_SIZE, length - first));
  const bytes = Buffer.concat(parts);
  if (lvmCrc(bytes) !== header.readUInt32LE(at + 16)) throw corrupt(disk, `metadata text at ${offset} does not match its checksum`);
  return { text: bytes.toString('utf8').replace(/\0+$/, ''), area };
}
