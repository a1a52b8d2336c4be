// The XFS superblock (first sector of allocation group 0), all fields big-endian except the
// v5 CRC. Layout (xfs_dsb), offsets in bytes:
//   0 magic "XFSB" | 4 blocksize u32 | 8 dblocks u64 | 16 rblocks u64 | 48 logstart u64 (fsblock)
//   56 rootino u64 | 84 agblocks u32 | 88 agcount u32 | 96 logblocks u32 | 100 versionnum u16
//   102 sectsize u16 | 104 inodesize u16 | 106 inopblock u16 | 108 fname[12] | 120 blocklog u8
//   122 inodelog u8 | 123 inopblog u8 | 124 agblklog u8 | 126 inprogress u8 | 192 dirblklog u8
//   200 features2 u32 | 208 features_compat | 212 features_ro_compat | 216 features_incompat
//   220 features_log_incompat | 224 crc (little-endian) | 248 meta_uuid[16]
// versionnum's low nibble is 4 or 5; v4 features live in its high bits and in features2, v5
// features in the four feature words. A block number inside a file map ("fsblock") is
// AG << agblklog | block in AG; an inode number is fsblock << inopblog | inode in block.
import { LifeboatError } from '../../errors.ts';
import { checksumOk } from './checksum.ts';

export const SB_MAGIC = 0x58465342;

const VERSION_DIRV2 = 0x2000;
const VERSION_MOREBITS = 0x8000;
const VERSION_BORG = 0x4000;
const FEATURES2_FTYPE = 0x200;
const FEATURES2_CRC = 0x100;

/** v5 incompatible features: what each changes, and whether this reader handles it. */
const INCOMPAT: { bit: number; name: string; read: boolean }[] = [
  { bit: 0x1, name: 'ftype', read: true },
  { bit: 0x2, name: 'sparse inodes', read: true },
  { bit: 0x4, name: 'meta_uuid', read: true },
  { bit: 0x8, name: 'bigtime', read: true },
  { bit: 0x10, name: 'needsrepair (xfs_repair did not finish)', read: false },
  { bit: 0x20, name: 'nrext64', read: true },
  { bit: 0x40, name: 'exchange-range', read: true },
  { bit: 0x80, name: 'parent pointers', read: true },
  { bit: 0x100, name: 'metadata directory tree', read: false },
  { bit: 0x200, name: 'zoned', read: false },
];
export const INCOMPAT_FTYPE = 0x1;
export const INCOMPAT_BIGTIME = 0x8;
export const INCOMPAT_NREXT64 = 0x20;

export type XfsSuperblock = {
  version: 4 | 5;
  blockSize: number;
  blockLog: number;
  dataBlocks: number;
  realtimeBlocks: number;
  agBlocks: number;
  agCount: number;
  agBlockLog: number;
  inodeSize: number;
  inodesPerBlockLog: number;
  rootInode: number;
  logStart: number;
  logBlocks: number;
  sectorSize: number;
  /** Directory blocks are blockSize << dirBlockLog. */
  dirBlockLog: number;
  label: string;
  /** Directory entries carry the file type. */
  ftype: boolean;
  incompat: number;
  /** mkfs stopped before it finished. */
  inProgress: boolean;
  /** The UUID stamped in v5 metadata (meta_uuid when set, else the volume's). */
  metaUuid: Buffer;
};

const bad = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `not a usable XFS file system (${why})`);
};

const u64 = (bytes: Buffer, at: number, what: string): number => {
  const value = bytes.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} is ${value}`);
  return Number(value);
};

const isPowerOfTwo = (value: number): boolean => value > 0 && (value & (value - 1)) === 0;

/** The superblock, checked: sizes consistent with each other and the volume, v5 CRC, features known. */
export function parseXfsSuperblock(sb: Buffer, volumeBytes: number): XfsSuperblock {
  if (sb.length < 512 || sb.readUInt32BE(0) !== SB_MAGIC) bad('no XFS magic');
  const versionNumber = sb.readUInt16BE(100);
  const version = versionNumber & 0xf;
  if (version !== 4 && version !== 5) bad(`superblock version ${version}`);
  const blockSize = sb.readUInt32BE(4);
  const blockLog = sb[120] as number;
  if (blockLog < 9 || blockLog > 16 || blockSize !== 2 ** blockLog) bad(`block size ${blockSize}`);
  const sectorSize = sb.readUInt16BE(102);
  if (!isPowerOfTwo(sectorSize) || sectorSize < 512 || sectorSize > blockSize) bad(`sector size ${sectorSize}`);
  if (sectorSize > sb.length) bad(`sector size ${sectorSize} is larger than the superblock read`);
  const features2 = version === 4 && versionNumber & VERSION_MOREBITS ? sb.readUInt32BE(200) : 0;
  if (version === 5 && !checksumOk(sb.subarray(0, sectorSize), 224)) bad('the superblock fails its checksum');
  if (version === 4 && features2 & FEATURES2_CRC) bad('a version 4 superblock claims CRCs');
  const inodeSize = sb.readUInt16BE(104);
  const inodeLog = sb[122] as number;
  if (inodeLog < 8 || inodeLog > 11 || inodeSize !== 2 ** inodeLog || inodeSize > blockSize) bad(`inode size ${inodeSize}`);
  if (version === 5 && inodeSize < 512) bad(`inode size ${inodeSize} on a version 5 file system`);
  const inodesPerBlockLog = sb[123] as number;
  if (inodesPerBlockLog !== blockLog - inodeLog || sb.readUInt16BE(106) !== 2 ** inodesPerBlockLog) bad('inodes per block');
  const agBlocks = sb.readUInt32BE(84);
  const agCount = sb.readUInt32BE(88);
  const agBlockLog = sb[124] as number;
  if (agBlocks < 1 || agBlockLog > 31 || 2 ** agBlockLog < agBlocks || (agBlockLog > 0 && 2 ** (agBlockLog - 1) >= agBlocks))
    bad(`${agBlocks} blocks per allocation group (log ${agBlockLog})`);
  const dataBlocks = u64(sb, 8, 'the block count');
  if (agCount < 1 || dataBlocks > agCount * agBlocks || dataBlocks <= (agCount - 1) * agBlocks)
    bad(`${agCount} allocation groups of ${agBlocks} blocks for ${dataBlocks} blocks`);
  if (dataBlocks * blockSize > volumeBytes) bad(`${dataBlocks} blocks of ${blockSize} bytes do not fit in the ${volumeBytes}-byte volume`);
  const dirBlockLog = sb[192] as number;
  if (blockLog + dirBlockLog > 16) bad(`directory block log ${dirBlockLog}`);
  let incompat = 0;
  let ftype: boolean;
  if (version === 5) {
    incompat = sb.readUInt32BE(216);
    refuseUnknown(incompat);
    ftype = (incompat & INCOMPAT_FTYPE) !== 0;
  } else {
    if (!(versionNumber & VERSION_DIRV2)) throw new LifeboatError('unavailable', 'XFS version 1 directories: not read');
    if (versionNumber & VERSION_BORG)
      throw new LifeboatError('unavailable', 'XFS ASCII case-insensitive names (version 4 borg bit): not read');
    ftype = (features2 & FEATURES2_FTYPE) !== 0;
  }
  const label = sb.subarray(108, 120).toString('utf8').replace(/\0.*$/su, '');
  return {
    version: version as 4 | 5,
    blockSize,
    blockLog,
    dataBlocks,
    realtimeBlocks: u64(sb, 16, 'the realtime block count'),
    agBlocks,
    agCount,
    agBlockLog,
    inodeSize,
    inodesPerBlockLog,
    rootInode: u64(sb, 56, 'the root inode'),
    logStart: u64(sb, 48, 'the log start'),
    logBlocks: sb.readUInt32BE(96),
    sectorSize,
    dirBlockLog,
    label,
    ftype,
    incompat,
    inProgress: sb[126] !== 0,
    metaUuid: Buffer.from(sb.subarray(incompat & 0x4 ? 248 : 32, (incompat & 0x4 ? 248 : 32) + 16)),
  };
}

/** An incompatible feature changes what the disk means: an unknown one, or one not read here, is refused by name. */
function refuseUnknown(incompat: number): void {
  const known = INCOMPAT.reduce((bits, feature) => bits | feature.bit, 0);
  for (const feature of INCOMPAT)
    if (incompat & feature.bit && !feature.read) throw new LifeboatError('unavailable', `XFS feature ${feature.name}: not read`);
  const unknown = (incompat & ~known) >>> 0;
  if (unknown !== 0) throw new LifeboatError('unavailable', `XFS unknown incompatible feature bits 0x${unknown.toString(16)}: not read`);
}

/** A file-map block number (AG << agblklog | block in AG) as a block number from the volume's start. */
export function diskBlock(sb: XfsSuperblock, fsBlock: number, count: number, what: string): number {
  const ag = Math.floor(fsBlock / 2 ** sb.agBlockLog);
  const inAg = fsBlock % 2 ** sb.agBlockLog;
  if (ag >= sb.agCount || inAg + count > sb.agBlocks || count < 0)
    throw new LifeboatError('corrupt-disk', `${what} points at block ${fsBlock}, outside the file system`);
  const block = ag * sb.agBlocks + inAg;
  if (block + count > sb.dataBlocks) throw new LifeboatError('corrupt-disk', `${what} points at block ${fsBlock}, outside the file system`);
  return block;
}
