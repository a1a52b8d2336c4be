// XFS version 2/3 directories: the entries of a folder, '.' and '..' left out.
// Short form (data fork "local"): count u8 | i8count u8 | parent (4 bytes, 8 when i8count > 0),
//   then per entry: namelen u8 | offset u16 | name | ftype u8 (with ftype) | inode (4 or 8 bytes).
// Block, leaf and node folders keep their entries in data blocks (blockSize << dirblklog bytes)
// at directory offsets below 32 GiB; leaf (hash) and free-space blocks above are not needed to list.
//   header v4: magic "XD2B" (block form) or "XD2D" | bestfree[3] (4 bytes each)         = 16 bytes
//   header v5: magic "XDB3" or "XDD3" | crc (LE) | blkno u64 | lsn u64 | uuid[16] | owner u64 |
//              bestfree[3] | pad u32                                                    = 64 bytes
//   then, 8-byte aligned, free spans (0xffff | length u16 | ... | tag u16) or entries:
//   inode u64 | namelen u8 | name | ftype u8 (with ftype) | tag u16 (the entry's own offset).
// A block-form block ends with its hash leaf: entries of 8 bytes, then count u32 | stale u32.
import { LifeboatError } from '../../errors.ts';
import { checksumOk } from './checksum.ts';
import type { XfsSuperblock } from './superblock.ts';

export type DirEntry = { name: string; inode: number };

const XD2B = 0x58443242;
const XD2D = 0x58443244;
const XDB3 = 0x58444233;
const XDD3 = 0x58444433;
export const DIR_LEAF_OFFSET_BYTES = 32 * 1024 ** 3;

const bad = (dir: number, why: string): never => {
  throw new LifeboatError('corrupt-disk', `XFS folder inode ${dir} ${why}`);
};

export function parseShortForm(sb: XfsSuperblock, dir: number, bytes: Buffer): DirEntry[] {
  if (bytes.length < 6) bad(dir, 'has a damaged short-form header');
  const count = bytes[0] as number;
  const wide = (bytes[1] as number) > 0;
  const inodeBytes = wide ? 8 : 4;
  let at = 2 + inodeBytes;
  const out: DirEntry[] = [];
  for (let index = 0; index < count; index++) {
    const nameLength = bytes[at] as number;
    const end = at + 3 + nameLength + (sb.ftype ? 1 : 0) + inodeBytes;
    if (nameLength === 0 || end > bytes.length) bad(dir, 'has a damaged short-form entry');
    const name = bytes.toString('utf8', at + 3, at + 3 + nameLength);
    const inode = wide ? Number(bytes.readBigUInt64BE(end - 8)) : bytes.readUInt32BE(end - 4);
    out.push({ name, inode });
    at = end;
  }
  return out;
}

/** The entries of one data block (block-form or data). `null` when the block is not a directory data block at all. */
export function parseDataBlock(sb: XfsSuperblock, dir: number, block: Buffer): DirEntry[] {
  const magic = block.readUInt32BE(0);
  const v5 = sb.version === 5;
  const blockForm = magic === (v5 ? XDB3 : XD2B);
  if (!blockForm && magic !== (v5 ? XDD3 : XD2D)) bad(dir, 'has a damaged data block (no magic)');
  if (v5) {
    if (!checksumOk(block, 4)) bad(dir, 'has a data block that fails its checksum (a damaged folder)');
    if (Number(block.readBigUInt64BE(40)) !== dir) bad(dir, 'has a data block of another inode');
    if (!block.subarray(24, 40).equals(sb.metaUuid)) bad(dir, 'has a data block of another file system');
  }
  let end = block.length;
  if (blockForm) {
    const leafCount = block.readUInt32BE(block.length - 8);
    end = block.length - 8 - leafCount * 8;
  }
  let at = v5 ? 64 : 16;
  if (end < at) bad(dir, 'has a damaged block tail');
  const out: DirEntry[] = [];
  while (at < end) {
    if (block.readUInt16BE(at) === 0xffff) {
      const length = block.readUInt16BE(at + 2);
      if (length < 8 || length % 8 !== 0 || at + length > end) bad(dir, 'has a damaged free span');
      at += length;
      continue;
    }
    const nameLength = block[at + 8] as number;
    const length = Math.ceil((8 + 1 + nameLength + (sb.ftype ? 1 : 0) + 2) / 8) * 8;
    if (nameLength === 0 || at + length > end) bad(dir, 'has a damaged entry');
    if (block.readUInt16BE(at + length - 2) !== at) bad(dir, 'has an entry whose tag does not match its place');
    const name = block.toString('utf8', at + 9, at + 9 + nameLength);
    // A damaged inode number is refused when the entry is read (inodeOffset), so only that entry is unreadable.
    const inode = Number(block.readBigUInt64BE(at));
    if (name !== '.' && name !== '..') out.push({ name, inode });
    at += length;
  }
  return out;
}
