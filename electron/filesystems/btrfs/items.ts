// The btrfs items a file system tree holds, parsed from their bytes (fs/btrfs/ctree.h):
// INODE_ITEM (type 1, 160 bytes): generation, transid, size @16, nbytes @24, block_group, nlink u32 @40,
//   uid u32 @44, gid u32 @48, mode u32 @52, rdev, flags @64, sequence, reserved[4],
//   atime @112, ctime @124, mtime @136, otime @148 (each sec i64 + nsec u32).
// INODE_REF (type 12, key offset = parent folder): index u64, name_len u16, name — repeated.
// DIR_ITEM (type 84, key offset = crc32c name hash) and DIR_INDEX (type 96, key offset = order):
//   location key (17), transid u64, data_len u16, name_len u16, type u8, name, data — DIR_ITEM repeats.
//   A location of type ROOT_ITEM (132) is a subvolume whose tree id is the key's objectid.
// EXTENT_DATA (type 108, key offset = file offset): generation, ram_bytes @8, compression u8 @16,
//   encryption u8 @17, other_encoding u16 @18, type u8 @20 (0 inline, 1 regular, 2 prealloc);
//   inline: the data from @21; else disk_bytenr @21, disk_num_bytes @29, offset @37, num_bytes @45.
// ROOT_ITEM (type 132): an inode item, generation @160, root_dirid @168, bytenr @176, level u8 @238.
// ROOT_REF (156) / ROOT_BACKREF (144): dirid u64, sequence u64, name_len u16, name.
import { crc32c } from '../crc32c.ts';
import { bad, u64 } from './superblock.ts';
import { readKey, type Key } from './tree.ts';

export const KEY = {
  inodeItem: 1,
  inodeRef: 12,
  dirItem: 84,
  dirIndex: 96,
  extentData: 108,
  rootItem: 132,
  rootBackref: 144,
  rootRef: 156,
  chunkItem: 228,
} as const;

export const FIRST_FREE_OBJECTID = 256;
export const FS_TREE = 5;
export const ROOT_TREE_DIR = 6;
const NAME_MAX = 255;
const MAX_INODE_BYTES = BigInt(Number.MAX_SAFE_INTEGER);

export type InodeItem = {
  size: number;
  nbytes: number;
  links: number;
  uid: number;
  gid: number;
  mode: number;
  flags: number;
  mtime: Date;
};

export type DirEntry = { name: string; location: Key };

export type FileExtent =
  | { kind: 'inline'; ramBytes: number; compression: number; data: Buffer }
  | {
      kind: 'regular' | 'prealloc';
      ramBytes: number;
      compression: number;
      diskBytenr: number;
      diskBytes: number;
      offset: number;
      length: number;
    };

export type RootItem = { bytenr: number; level: number; generation: number; rootDir: number };

/** The hash DIR_ITEM keys are filed under: crc32c seeded with ~1, no final inversion. */
export function nameHash(name: Buffer): number {
  return crc32c(0xfffffffe, name);
}

const time = (bytes: Buffer, at: number): Date => {
  const seconds = Number(bytes.readBigInt64LE(at));
  const date = new Date(seconds * 1000 + Math.floor(bytes.readUInt32LE(at + 8) / 1e6));
  return Number.isNaN(date.getTime()) ? new Date(0) : date;
};

export function parseInodeItem(data: Buffer, inode: number): InodeItem {
  if (data.length < 160) bad(`inode ${inode} is cut short`);
  // The kernel allows sizes up to 2^63, but a size past 2^53 is no real file (a sparse file that
  // large could not be restored anyway) and cannot be held exactly: refused as damage, so the entry
  // is listed with its problem instead of reaching the restore writer.
  const size = data.readBigUInt64LE(16);
  const nbytes = data.readBigUInt64LE(24);
  if (size > MAX_INODE_BYTES) bad(`inode ${inode} claims a size of ${size} bytes`);
  if (nbytes > MAX_INODE_BYTES) bad(`inode ${inode} claims ${nbytes} bytes stored`);
  return {
    size: Number(size),
    nbytes: Number(nbytes),
    links: data.readUInt32LE(40),
    uid: data.readUInt32LE(44),
    gid: data.readUInt32LE(48),
    mode: data.readUInt32LE(52),
    flags: u64(data, 64),
    mtime: time(data, 136),
  };
}

/** The entries of one DIR_ITEM or DIR_INDEX item (a DIR_ITEM holds every name of its hash). */
export function parseDirEntries(data: Buffer, folder: number): DirEntry[] {
  const out: DirEntry[] = [];
  for (let at = 0; at < data.length;) {
    if (at + 30 > data.length) bad(`folder ${folder} has a damaged entry`);
    const dataLength = data.readUInt16LE(at + 25);
    const nameLength = data.readUInt16LE(at + 27);
    const end = at + 30 + nameLength + dataLength;
    if (nameLength === 0 || nameLength > NAME_MAX || end > data.length) bad(`folder ${folder} has a damaged entry`);
    out.push({ name: data.toString('utf8', at + 30, at + 30 + nameLength), location: readKey(data, at) });
    at = end;
  }
  return out;
}

/** The entry of a DIR_ITEM whose name is exactly these bytes. */
export function findDirEntry(data: Buffer, folder: number, name: Buffer): DirEntry | undefined {
  for (let at = 0; at < data.length;) {
    if (at + 30 > data.length) bad(`folder ${folder} has a damaged entry`);
    const nameLength = data.readUInt16LE(at + 27);
    const end = at + 30 + nameLength + data.readUInt16LE(at + 25);
    if (nameLength === 0 || nameLength > NAME_MAX || end > data.length) bad(`folder ${folder} has a damaged entry`);
    if (nameLength === name.length && data.compare(name, 0, name.length, at + 30, at + 30 + nameLength) === 0)
      return { name: data.toString('utf8', at + 30, at + 30 + nameLength), location: readKey(data, at) };
    at = end;
  }
  return undefined;
}

export function parseFileExtent(data: Buffer, inode: number): FileExtent {
  if (data.length < 21) bad(`inode ${inode} has a damaged extent`);
  const ramBytes = u64(data, 8);
  const compression = data[16] as number;
  const type = data[20] as number;
  if (data[17] !== 0 || data.readUInt16LE(18) !== 0) bad(`inode ${inode} has an encrypted or encoded extent, which btrfs does not write`);
  if (type === 0) return { kind: 'inline', ramBytes, compression, data: data.subarray(21) };
  if ((type !== 1 && type !== 2) || data.length < 53) bad(`inode ${inode} has an extent of type ${type}`);
  return {
    kind: type === 1 ? 'regular' : 'prealloc',
    ramBytes,
    compression,
    diskBytenr: u64(data, 21),
    diskBytes: u64(data, 29),
    offset: u64(data, 37),
    length: u64(data, 45),
  };
}

export function parseRootItem(data: Buffer, tree: number): RootItem {
  if (data.length < 239) bad(`the root item of tree ${tree} is cut short`);
  return { generation: u64(data, 160), rootDir: u64(data, 168), bytenr: u64(data, 176), level: data[238] as number };
}

/** ROOT_REF / ROOT_BACKREF: the folder (in the parent tree) a subvolume sits in, and its name. */
export function parseRootRef(data: Buffer, tree: number): { folder: number; name: string } {
  if (data.length < 18) bad(`the reference of subvolume ${tree} is cut short`);
  const nameLength = data.readUInt16LE(16);
  if (nameLength === 0 || nameLength > NAME_MAX || 18 + nameLength > data.length) bad(`the reference of subvolume ${tree} is damaged`);
  return { folder: u64(data, 0), name: data.toString('utf8', 18, 18 + nameLength) };
}

/** INODE_REF: the first name the inode has in its parent folder (the key's offset). */
export function parseInodeRefName(data: Buffer, inode: number): string {
  if (data.length < 10) bad(`inode ${inode} has a damaged reference`);
  const nameLength = data.readUInt16LE(8);
  if (nameLength === 0 || nameLength > NAME_MAX || 10 + nameLength > data.length) bad(`inode ${inode} has a damaged reference`);
  return data.toString('utf8', 10, 10 + nameLength);
}
