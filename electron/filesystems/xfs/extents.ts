// A data fork's map of file blocks to disk blocks. An extent record is 16 bytes, one big-endian
// 128-bit word: bit 127 unwritten flag | bits 73-126 file offset (blocks) | bits 21-72 start
// fsblock | bits 0-20 block count. The fork holds the records themselves (format "extents"), or
// the root of a B+tree (format "btree", xfs_bmdr_block: level u16, numrecs u16, then maxrecs keys
// of 8 bytes and maxrecs child fsblock pointers of 8 bytes). Tree blocks (long-form btree blocks):
//   v4 "BMAP": magic u32 | level u16 | numrecs u16 | leftsib u64 | rightsib u64  (24 bytes)
//   v5 "BMA3": the same, then blkno u64 | lsn u64 | uuid[16] | owner u64 | crc u32 (LE) | pad (72 bytes)
// then records (leaves), or keys and pointers each in maxrecs = (block - header) / 16 slots.
import { LifeboatError } from '../../errors.ts';
import { checksumOk } from './checksum.ts';
import { FORMAT_BTREE, FORMAT_EXTENTS, type XfsInode } from './inode.ts';
import { diskBlock, type XfsSuperblock } from './superblock.ts';

const BMAP_MAGIC = 0x424d4150;
const BMA3_MAGIC = 0x424d4133;
/** The deepest bmbt the kernel builds is 9 levels (nrext64); anything deeper is damage. */
const MAX_LEVELS = 10;
/** A map larger than this is refused rather than held in memory (16 bytes each on disk). */
const MAX_EXTENTS = 4_000_000;

export type Extent = {
  /** First file block. */
  offset: number;
  /** First block from the volume's start. */
  block: number;
  count: number;
  /** Allocated but never written: reads as zeros. */
  unwritten: boolean;
};

const MASK_9 = (1n << 9n) - 1n;
const MASK_21 = (1n << 21n) - 1n;
const MASK_54 = (1n << 54n) - 1n;

function parseRecord(sb: XfsSuperblock, bytes: Buffer, at: number, what: string): Extent {
  const high = bytes.readBigUInt64BE(at);
  const low = bytes.readBigUInt64BE(at + 8);
  const offset = Number((high >> 9n) & MASK_54);
  const fsBlock = Number(((high & MASK_9) << 43n) | (low >> 21n));
  const count = Number(low & MASK_21);
  if (count === 0 || offset + count > Number.MAX_SAFE_INTEGER)
    throw new LifeboatError('corrupt-disk', `${what} has a damaged extent record`);
  return { offset, block: diskBlock(sb, fsBlock, count, what), count, unwritten: high >> 63n === 1n };
}

type ReadBlock = (block: number) => Promise<Buffer>;

/** The data fork's extents in file order, checked not to overlap. Local and device forks have none. */
export async function extentsOf(sb: XfsSuperblock, inode: XfsInode, readBlock: ReadBlock): Promise<Extent[]> {
  const what = `XFS inode ${inode.number}`;
  const fork = inode.dataFork;
  const out: Extent[] = [];
  if (inode.format === FORMAT_EXTENTS) {
    if (inode.extentCount * 16 > fork.length) throw new LifeboatError('corrupt-disk', `${what} claims more extents than its fork holds`);
    for (let index = 0; index < inode.extentCount; index++) out.push(parseRecord(sb, fork, index * 16, what));
  } else if (inode.format === FORMAT_BTREE) {
    await walkTree(sb, inode, readBlock, out);
  } else return [];
  for (let index = 1; index < out.length; index++) {
    const previous = out[index - 1] as Extent;
    if ((out[index] as Extent).offset < previous.offset + previous.count)
      throw new LifeboatError('corrupt-disk', `${what} has overlapping or unordered extents`);
  }
  return out;
}

async function walkTree(sb: XfsSuperblock, inode: XfsInode, readBlock: ReadBlock, out: Extent[]): Promise<void> {
  const what = `XFS inode ${inode.number}`;
  const fork = inode.dataFork;
  if (fork.length < 4) throw new LifeboatError('corrupt-disk', `${what} has a damaged extent tree root`);
  const rootLevel = fork.readUInt16BE(0);
  const rootRecords = fork.readUInt16BE(2);
  const rootSlots = Math.floor((fork.length - 4) / 16);
  if (rootLevel < 1 || rootLevel >= MAX_LEVELS || rootRecords < 1 || rootRecords > rootSlots)
    throw new LifeboatError('corrupt-disk', `${what} has a damaged extent tree root (level ${rootLevel}, ${rootRecords} records)`);
  const v5 = sb.version === 5;
  const header = v5 ? 72 : 24;
  const blockSlots = Math.floor((sb.blockSize - header) / 16);
  // Each tree block is read once: a pointer back at a visited block is a loop in a damaged tree.
  const visited = new Set<number>();
  const visit = async (fsBlock: number, level: number): Promise<void> => {
    const block = diskBlock(sb, fsBlock, 1, what);
    if (visited.has(block)) throw new LifeboatError('corrupt-disk', `${what} has an extent tree that loops`);
    // Every leaf holds at least one extent: more tree blocks than extents is a damaged tree.
    if (visited.size > inode.extentCount + MAX_LEVELS)
      throw new LifeboatError('corrupt-disk', `${what} has more extent tree blocks than extents`);
    visited.add(block);
    const bytes = await readBlock(block);
    const magic = bytes.readUInt32BE(0);
    if (magic !== (v5 ? BMA3_MAGIC : BMAP_MAGIC))
      throw new LifeboatError('corrupt-disk', `${what} has a damaged extent tree block (no magic)`);
    if (v5) {
      if (!checksumOk(bytes, 64)) throw new LifeboatError('corrupt-disk', `${what} has an extent tree block that fails its checksum`);
      if (Number(bytes.readBigUInt64BE(56)) !== inode.number)
        throw new LifeboatError('corrupt-disk', `${what} has an extent tree block of another inode`);
      if (!bytes.subarray(40, 56).equals(sb.metaUuid))
        throw new LifeboatError('corrupt-disk', `${what} has an extent tree block of another file system`);
    }
    const records = bytes.readUInt16BE(6);
    if (bytes.readUInt16BE(4) !== level || records < 1 || records > blockSlots)
      throw new LifeboatError(
        'corrupt-disk',
        `${what} has a damaged extent tree block (level ${bytes.readUInt16BE(4)}, ${records} records)`,
      );
    if (level === 0) {
      if (out.length + records > MAX_EXTENTS)
        throw new LifeboatError('unavailable', `${what} has more than ${MAX_EXTENTS} extents: not read`);
      for (let index = 0; index < records; index++) out.push(parseRecord(sb, bytes, header + index * 16, what));
      return;
    }
    for (let index = 0; index < records; index++)
      await visit(Number(bytes.readBigUInt64BE(header + blockSlots * 8 + index * 8)), level - 1);
  };
  for (let index = 0; index < rootRecords; index++) await visit(Number(fork.readBigUInt64BE(4 + rootSlots * 8 + index * 8)), rootLevel - 1);
}
