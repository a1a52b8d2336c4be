// btrfs superblock (fs/btrfs/ctree.h struct btrfs_super_block): the primary copy at 64 KiB, 4096
// bytes, little-endian.
//   0x000 csum[32]   checksum of bytes 0x20..0x1000 (csum_type at 0xc4: 0 crc32c, 2 sha256)
//   0x020 fsid[16]   0x030 bytenr   0x040 magic "_BHRfS_M"   0x048 generation
//   0x050 root (logical address of the root tree)   0x058 chunk_root   0x060 log_root
//   0x070 total_bytes   0x088 num_devices   0x090 sectorsize u32   0x094 nodesize u32
//   0x0a0 sys_chunk_array_size u32   0x0bc incompat_flags   0x0c4 csum_type u16
//   0x0c6 root_level u8   0x0c7 chunk_root_level u8
//   0x0c9 dev_item: devid u64 at +0 (this member's number), fsid at +0x42 (98 bytes)
//   0x12b label[256]   0x23b metadata_uuid[16] (tree blocks carry it instead of fsid under METADATA_UUID)
//   0x32b sys_chunk_array[2048]: (key, chunk item) pairs that map the chunk tree itself.
import { createHash } from 'node:crypto';
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import { crc32c } from '../crc32c.ts';

export const SUPERBLOCK_OFFSET = 0x10000;
export const SUPERBLOCK_SIZE = 4096;
const MAGIC = '_BHRfS_M';

export const INCOMPAT = {
  compressLzo: 1 << 3,
  compressZstd: 1 << 4,
  raid56: 1 << 7,
  noHoles: 1 << 9,
  metadataUuid: 1 << 10,
  extentTreeV2: 1 << 13,
  raidStripeTree: 1 << 14,
} as const;

export type ChecksumKind = 'crc32c' | 'sha256';

export type BtrfsSuperblock = {
  fsid: string;
  /** What tree block headers carry: the fsid, or metadata_uuid under METADATA_UUID. */
  metadataUuid: Buffer;
  generation: number;
  root: number;
  rootLevel: number;
  chunkRoot: number;
  chunkRootLevel: number;
  logRoot: number;
  devices: number;
  sectorSize: number;
  nodeSize: number;
  incompat: number;
  checksum: ChecksumKind;
  deviceId: number;
  deviceFsid: string;
  label: string;
  sysChunkArray: Buffer;
};

/** A little-endian u64 as a number: exact below 2^53, which every address and size here is.
 * Tree keys are read exactly instead (tree.ts readKey): object ids near 2^64 must sort exactly. */
export function u64(bytes: Buffer, at: number): number {
  return bytes.readUInt32LE(at) + bytes.readUInt32LE(at + 4) * 2 ** 32;
}

export const bad = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `btrfs: ${why}`);
};

const uuid = (bytes: Buffer): string => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

/** The checksum btrfs stores in the first bytes of a superblock or tree block, over the rest. */
export function checksumMatches(kind: ChecksumKind, block: Buffer): boolean {
  const body = block.subarray(32);
  if (kind === 'crc32c') return (crc32c(0xffffffff, body) ^ 0xffffffff) >>> 0 === block.readUInt32LE(0);
  return createHash('sha256').update(body).digest().equals(block.subarray(0, 32));
}

export function isBtrfsSuperblock(sb: Buffer): boolean {
  return sb.length >= SUPERBLOCK_SIZE && sb.toString('latin1', 0x40, 0x48) === MAGIC;
}

export function parseBtrfsSuperblock(sb: Buffer): BtrfsSuperblock {
  if (!isBtrfsSuperblock(sb)) bad('no superblock magic at 64 KiB');
  const csumType = sb.readUInt16LE(0xc4);
  const checksum: ChecksumKind | null = csumType === 0 ? 'crc32c' : csumType === 2 ? 'sha256' : null;
  if (checksum === null)
    throw new LifeboatError(
      'unavailable',
      `btrfs checksum type ${csumType === 1 ? 'xxhash64' : csumType === 3 ? 'blake2b' : csumType}: not read`,
    );
  if (!checksumMatches(checksum, sb.subarray(0, SUPERBLOCK_SIZE))) bad('the superblock fails its checksum');
  if (u64(sb, 0x30) !== SUPERBLOCK_OFFSET) bad('the superblock names another place as its own');
  const sectorSize = sb.readUInt32LE(0x90);
  const nodeSize = sb.readUInt32LE(0x94);
  const power = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;
  if (!power(sectorSize) || sectorSize < 4096 || sectorSize > 65536) bad(`sector size ${sectorSize}`);
  if (!power(nodeSize) || nodeSize < sectorSize || nodeSize > 65536) bad(`node size ${nodeSize}`);
  const sysSize = sb.readUInt32LE(0xa0);
  if (sysSize > 2048) bad(`a system chunk array of ${sysSize} bytes`);
  const devices = u64(sb, 0x88);
  if (devices < 1 || devices > 1024) bad(`${devices} devices`);
  const incompat = u64(sb, 0xbc);
  if (incompat & INCOMPAT.extentTreeV2) throw new LifeboatError('unavailable', 'btrfs extent tree v2: not read');
  if (incompat & INCOMPAT.raidStripeTree) throw new LifeboatError('unavailable', 'btrfs RAID stripe tree: not read');
  const fsidBytes = sb.subarray(0x20, 0x30);
  const rootLevel = sb[0xc6] as number;
  const chunkRootLevel = sb[0xc7] as number;
  if (rootLevel > 7 || chunkRootLevel > 7) bad('a tree deeper than btrfs allows');
  return {
    fsid: uuid(fsidBytes),
    metadataUuid: Buffer.from(incompat & INCOMPAT.metadataUuid ? sb.subarray(0x23b, 0x24b) : fsidBytes),
    generation: u64(sb, 0x48),
    root: u64(sb, 0x50),
    rootLevel,
    chunkRoot: u64(sb, 0x58),
    chunkRootLevel,
    logRoot: u64(sb, 0x60),
    devices,
    sectorSize,
    nodeSize,
    incompat,
    checksum,
    deviceId: u64(sb, 0xc9),
    deviceFsid: uuid(sb.subarray(0xc9 + 0x42, 0xc9 + 0x52)),
    label: sb.toString('utf8', 0x12b, 0x22b).replace(/\0.*$/s, ''),
    sysChunkArray: Buffer.from(sb.subarray(0x32b, 0x32b + sysSize)),
  };
}

/** The primary superblock of a member, or null when the disk holds no btrfs. */
export async function readBtrfsSuperblock(disk: Disk): Promise<BtrfsSuperblock | null> {
  if (disk.capacity < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) return null;
  const sb = await disk.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
  if (!isBtrfsSuperblock(sb)) return null;
  return parseBtrfsSuperblock(sb);
}

/** What a disk is as a btrfs member: its file system, its number in it, how many it has. */
export async function probeBtrfs(disk: Disk): Promise<{ fsid: string; deviceId: number; devices: number } | null> {
  const sb = await readBtrfsSuperblock(disk);
  return sb === null ? null : { fsid: sb.fsid, deviceId: sb.deviceId, devices: sb.devices };
}
