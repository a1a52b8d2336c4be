// XFS inodes (xfs_dinode), big-endian except the v3 CRC. Core offsets in bytes:
//   0 magic "IN" | 2 mode u16 | 4 version u8 (1, 2; 3 on v5) | 5 format u8 (data fork) | 6 onlink u16 (v1)
//   8 uid u32 | 12 gid u32 | 16 nlink u32 | 24 big_nextents u64 (nrext64) | 32 atime | 40 mtime | 48 ctime
//   (only mtime is read: an entry shows it)
//   56 size u64 | 64 nblocks u64 | 76 nextents u32 | 82 forkoff u8 (8-byte units) | 90 flags u16
//   v3 only: 100 crc (little-endian) | 120 flags2 u64 | 152 ino u64 | 160 uuid[16]
// The literal area (the forks) starts at 100 (v1/v2) or 176 (v3); the data fork runs to forkoff
// or to the end of the inode. A timestamp is seconds (s32) and nanoseconds (u32), or with bigtime
// one u64 count of nanoseconds since 1901-12-13 20:45:52 UTC (-2^31 s).
import { LifeboatError } from '../../errors.ts';
import { checksumOk } from './checksum.ts';
import type { XfsSuperblock } from './superblock.ts';

export const INODE_MAGIC = 0x494e;
export const FORMAT_DEV = 0;
export const FORMAT_LOCAL = 1;
export const FORMAT_EXTENTS = 2;
export const FORMAT_BTREE = 3;
const FLAG_REALTIME = 0x1;
const FLAG2_BIGTIME = 0x8;
const FLAG2_NREXT64 = 0x10;
const BIGTIME_EPOCH_OFFSET_MS = 2 ** 31 * 1000;

export type XfsInode = {
  number: number;
  mode: number;
  uid: number;
  gid: number;
  links: number;
  size: number;
  /** Bytes really stored: the inode's block count (data, map and attribute blocks). */
  allocated: number;
  mtime: Date;
  format: number;
  realtime: boolean;
  /** Extent records the data fork holds (its B+tree's leaves for a btree fork). */
  extentCount: number;
  /** The data fork's bytes inside the inode. */
  dataFork: Buffer;
};

const bad = (number: number, why: string): never => {
  throw new LifeboatError('corrupt-disk', `XFS inode ${number} ${why}`);
};

/** A big-endian u64 as a number: exact up to 2^53, and above that still above every safe integer
 * (so a bound check refuses it). Two 32-bit reads: a BigInt per field made listing 20,000 inodes slow. */
function u64(raw: Buffer, at: number): number {
  return raw.readUInt32BE(at) * 2 ** 32 + raw.readUInt32BE(at + 4);
}

/** Milliseconds since 1970 of a bigtime stamp, exactly as ⌊nanoseconds / 10^6⌋ - 2^31 s: the
 * high word's share split as 2^32 = 4294·10^6 + 967296 keeps every step below 2^53. */
export function bigtimeMs(high: number, low: number): number {
  return high * 4294 + Math.floor((high * 967_296 + low) / 1_000_000) - BIGTIME_EPOCH_OFFSET_MS;
}

function timestamp(raw: Buffer, at: number, bigtime: boolean): Date {
  if (bigtime) return new Date(bigtimeMs(raw.readUInt32BE(at), raw.readUInt32BE(at + 4)));
  return new Date(raw.readInt32BE(at) * 1000 + Math.floor(raw.readUInt32BE(at + 4) / 1_000_000));
}

/** Where inode `number` lies, in bytes from the volume's start; a number outside the volume is damage. */
export function inodeOffset(sb: XfsSuperblock, number: number): number {
  const perAgLog = sb.agBlockLog + sb.inodesPerBlockLog;
  const ag = Math.floor(number / 2 ** perAgLog);
  const blockInAg = Math.floor(number / 2 ** sb.inodesPerBlockLog) % 2 ** sb.agBlockLog;
  const index = number % 2 ** sb.inodesPerBlockLog;
  if (
    !Number.isSafeInteger(number) ||
    number <= 0 ||
    ag >= sb.agCount ||
    blockInAg >= sb.agBlocks ||
    ag * sb.agBlocks + blockInAg >= sb.dataBlocks
  )
    throw new LifeboatError('corrupt-disk', `XFS inode number ${number} lies outside the file system`);
  return (ag * sb.agBlocks + blockInAg) * sb.blockSize + index * sb.inodeSize;
}

export function parseInode(sb: XfsSuperblock, number: number, raw: Buffer): XfsInode {
  if (raw.readUInt16BE(0) !== INODE_MAGIC) bad(number, 'has no inode magic (a damaged or unallocated inode)');
  const version = raw[4] as number;
  if (sb.version === 5 ? version !== 3 : version !== 1 && version !== 2) bad(number, `has version ${version}`);
  if (version === 3) {
    if (!checksumOk(raw, 100)) bad(number, 'fails its checksum (a damaged inode)');
    if (u64(raw, 152) !== number) bad(number, 'holds another inode number (a misplaced inode)');
    if (!raw.subarray(160, 176).equals(sb.metaUuid)) bad(number, 'belongs to another file system (its UUID differs)');
  }
  // The flags this reader knows sit in the low word of di_flags2.
  const flags2 = version === 3 ? raw.readUInt32BE(124) : 0;
  const bigtime = (flags2 & FLAG2_BIGTIME) !== 0;
  const nrext64 = (flags2 & FLAG2_NREXT64) !== 0;
  const literal = version === 3 ? 176 : 100;
  const forkOffset = (raw[82] as number) * 8;
  if (literal + forkOffset > raw.length) bad(number, `has an attribute fork offset of ${forkOffset} bytes`);
  const dataFork = raw.subarray(literal, forkOffset > 0 ? literal + forkOffset : raw.length);
  const size = u64(raw, 56);
  if (size > Number.MAX_SAFE_INTEGER) bad(number, `claims ${raw.readBigUInt64BE(56)} bytes`);
  const blocks = u64(raw, 64);
  if (blocks > sb.dataBlocks) bad(number, `claims ${raw.readBigUInt64BE(64)} blocks, more than the file system has`);
  const extentCount = nrext64 ? u64(raw, 24) : raw.readUInt32BE(76);
  if (extentCount > sb.dataBlocks) bad(number, `claims ${nrext64 ? raw.readBigUInt64BE(24) : extentCount} extents`);
  return {
    number,
    mode: raw.readUInt16BE(2),
    uid: raw.readUInt32BE(8),
    gid: raw.readUInt32BE(12),
    links: version === 1 ? raw.readUInt16BE(6) : raw.readUInt32BE(16),
    size,
    allocated: blocks * sb.blockSize,
    mtime: timestamp(raw, 40, bigtime),
    format: raw[5] as number,
    realtime: (raw.readUInt16BE(90) & FLAG_REALTIME) !== 0,
    extentCount,
    dataFork,
  };
}
