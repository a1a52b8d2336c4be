// ext2/3/4 read-only: superblock, group descriptors (32- and 64-bit), inodes (checksummed under
// metadata_csum), extent trees and the classic indirect blocks, inline data (files, folders and
// symlinks kept in the inode), directories (htree ones read as plain blocks), fast and slow
// symlinks. A volume that was not cleanly unmounted is read as of its journal, replayed in memory.
// Depths, counts and sizes from the disk are bounded before they are trusted.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { crc32c } from './crc32c.ts';
import {
  splitPath,
  typeOfMode,
  walkPath,
  type FileRegion,
  type FileSystem,
  type FsEntry,
  type VolumeNote,
  isReadFailure,
  describeEach,
  regionBytes,
} from './file-system.ts';
import { readBlockRuns } from './block-runs.ts';
import { JournalOverlayDisk, replayJournal } from './jbd2.ts';
import { FolderCache, type NamedEntries } from './folder-cache.ts';

const EXT_MAGIC = 0xef53;
const EXTENT_MAGIC = 0xf30a;
const FLAG_HTREE = 0x1000;
const FLAG_EXTENTS = 0x80000;
const FLAG_INLINE_DATA = 0x10000000;
const COMPAT_HAS_JOURNAL = 0x4;
const STATE_CLEAN = 0x1;
const INCOMPAT_RECOVER = 0x4;
const FLAG_HUGE_FILE = 0x40000;
const INCOMPAT_64BIT = 0x80;
const INCOMPAT_CSUM_SEED = 0x2000;
const RO_COMPAT_METADATA_CSUM = 0x400;
const XATTR_MAGIC = 0xea020000;
const XATTR_INDEX_SYSTEM = 7;
const INLINE_BYTES = 60;
const GOOD_OLD_INODE = 128;
/** Where i_mtime_extra sits in a large inode. */
const MTIME_EXTRA = 0x88;
const MAX_EXTENT_DEPTH = 5;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
const INODE_BLOCKS_HELD = 256;
const TWO_ZEROS = new Uint8Array(2);
const SEED_BYTES = Buffer.alloc(8);

export type ExtSuperblock = {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  inodesPerGroup: number;
  blocksPerGroup: number;
  firstDataBlock: number;
  inodeSize: number;
  descriptorSize: number;
  groups: number;
  label: string;
  needsRecovery: boolean;
  /** No journal, and marked not clean: copied while mounted, or never unmounted. */
  uncleanWithoutJournal: boolean;
  journalInode: number;
  externalJournal: boolean;
  /** The seed of inode checksums, or null without metadata_csum. */
  checksumSeed: number | null;
};

const bad = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `not a usable ext2/3/4 file system (${why})`);
};

export function parseExtSuperblock(sb: Buffer, volumeBytes: number): ExtSuperblock {
  if (sb.length < 1024 || sb.readUInt16LE(56) !== EXT_MAGIC) bad('no ext magic');
  const logBlock = sb.readUInt32LE(24);
  if (logBlock > 6) bad(`block size 1024 << ${logBlock}`);
  const blockSize = 1024 << logBlock;
  const incompat = sb.readUInt32LE(96);
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = sb.readUInt32LE(4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  const inodesCount = sb.readUInt32LE(0);
  const blocksPerGroup = sb.readUInt32LE(32);
  const inodesPerGroup = sb.readUInt32LE(40);
  const revision = sb.readUInt32LE(76);
  const inodeSize = revision >= 1 ? sb.readUInt16LE(88) : 128;
  const descriptorSize = is64 ? sb.readUInt16LE(254) || 64 : 32;
  if (blocksPerGroup === 0 || inodesPerGroup === 0 || inodesCount === 0) bad('empty groups');
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) bad(`inode size ${inodeSize}`);
  if (descriptorSize < 32 || descriptorSize > 1024) bad(`descriptor size ${descriptorSize}`);
  if (blocksCount * blockSize > volumeBytes + blockSize) bad('it claims more blocks than the volume holds');
  const firstDataBlock = sb.readUInt32LE(20);
  const groups = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (groups < 1 || groups * inodesPerGroup < inodesCount) bad('group counts do not add up');
  const metadataCsum = (sb.readUInt32LE(100) & RO_COMPAT_METADATA_CSUM) !== 0;
  const checksumSeed = !metadataCsum
    ? null
    : incompat & INCOMPAT_CSUM_SEED
      ? sb.readUInt32LE(0x270)
      : crc32c(0xffffffff, sb.subarray(0x68, 0x78));
  const journalInode = sb.readUInt32LE(0xe0);
  const externalJournal = journalInode === 0 && (sb.readUInt32LE(0xe4) !== 0 || sb.subarray(0xd0, 0xe0).some((byte) => byte !== 0));
  return {
    blockSize,
    blocksCount,
    inodesCount,
    inodesPerGroup,
    blocksPerGroup,
    firstDataBlock,
    inodeSize,
    descriptorSize,
    groups,
    label: sb.toString('latin1', 120, 136).replace(/\0.*$/s, ''),
    needsRecovery: (incompat & INCOMPAT_RECOVER) !== 0,
    uncleanWithoutJournal: (sb.readUInt32LE(92) & COMPAT_HAS_JOURNAL) === 0 && (sb.readUInt16LE(58) & STATE_CLEAN) === 0,
    journalInode,
    externalJournal,
    checksumSeed,
  };
}

/** `allocated`: i_blocks in bytes (512-byte units; file system blocks under the huge_file flag). */
type Inode = {
  number: number;
  mode: number;
  size: number;
  mtime: Date;
  flags: number;
  block: Buffer;
  raw: Buffer;
  allocated: number;
  links: number;
};

/** An inode's mtime as Linux reads it: i_mtime is signed seconds (times before 1970 are
 * negative); where the inode's extra part holds i_mtime_extra, its low two bits carry the seconds
 * past 2038 and the rest are nanoseconds. */
function inodeMtime(raw: Buffer): Date {
  let seconds = raw.readInt32LE(16);
  let nanoseconds = 0;
  const extraSize = raw.length >= GOOD_OLD_INODE + 2 ? raw.readUInt16LE(GOOD_OLD_INODE) : 0;
  if (GOOD_OLD_INODE + extraSize >= MTIME_EXTRA + 4 && raw.length >= MTIME_EXTRA + 4) {
    const extra = raw.readUInt32LE(MTIME_EXTRA);
    seconds += (extra & 3) * 2 ** 32;
    nanoseconds = extra >>> 2;
  }
  return new Date(seconds * 1000 + Math.floor(nanoseconds / 1_000_000));
}

/** The value of the system.data extended attribute in the inode body: the rest of inline data. */
function inlineDataTail(inode: Inode): Buffer {
  const raw = inode.raw;
  if (raw.length <= GOOD_OLD_INODE + 4) bad(`inode ${inode.number} has inline data but no room for it`);
  const extra = raw.readUInt16LE(GOOD_OLD_INODE);
  const header = GOOD_OLD_INODE + extra;
  if (extra % 4 !== 0 || header + 4 > raw.length || raw.readUInt32LE(header) !== XATTR_MAGIC)
    bad(`inode ${inode.number} has inline data without its attribute`);
  const first = header + 4;
  for (let at = first; at + 16 <= raw.length && raw.readUInt32LE(at) !== 0;) {
    const nameLength = raw[at] as number;
    const nameIndex = raw[at + 1] as number;
    const valueOffset = raw.readUInt16LE(at + 2);
    const valueSize = raw.readUInt32LE(at + 8);
    if (at + 16 + nameLength > raw.length) break;
    if (nameIndex === XATTR_INDEX_SYSTEM && raw.toString('latin1', at + 16, at + 16 + nameLength) === 'data') {
      if (raw.readUInt32LE(at + 4) !== 0 || first + valueOffset + valueSize > raw.length)
        bad(`inode ${inode.number} has a damaged inline data attribute`);
      return raw.subarray(first + valueOffset, first + valueOffset + valueSize);
    }
    at += (16 + nameLength + 3) & ~3;
  }
  bad(`inode ${inode.number} has inline data without its attribute`);
  return Buffer.alloc(0);
}

/** Inline data in order: the 60 bytes of i_block, then the attribute's value. */
function inlineData(inode: Inode): Buffer {
  const bytes = Buffer.concat([inode.block, inlineDataTail(inode)]);
  if (inode.size > bytes.length) bad(`inode ${inode.number} claims ${inode.size} bytes of inline data but holds ${bytes.length}`);
  return bytes.subarray(0, inode.size);
}

export class ExtFileSystem implements FileSystem {
  readonly kind = 'ext4' as const;
  readonly label: string;
  readonly notes: VolumeNote[];
  private readonly disk: Disk;
  private readonly sb: ExtSuperblock;
  private readonly tables = new Map<number, number>();
  private readonly inodeBlocks = new Map<number, Promise<Buffer>>();
  /** Folders read last, by inode number: a path lookup is a hash look-up per component. */
  private readonly folders = new FolderCache<number, { name: string; inode: number }>(false);

  private constructor(disk: Disk, sb: ExtSuperblock, notes: VolumeNote[]) {
    this.disk = disk;
    this.sb = sb;
    this.label = sb.label;
    this.notes = notes;
  }

  static async open(disk: Disk): Promise<ExtFileSystem> {
    if (disk.capacity < 2048) bad('volume too small');
    const sb = parseExtSuperblock(await disk.read(1024, 1024), disk.capacity);
    if (sb.uncleanWithoutJournal)
      return new ExtFileSystem(disk, sb, [
        { stale: true, text: 'may be stale: the volume was not cleanly unmounted and has no journal to replay' },
      ]);
    const asFound = new ExtFileSystem(disk, sb, []);
    if (!sb.needsRecovery) return asFound;
    try {
      return await asFound.replayed();
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      return new ExtFileSystem(disk, sb, [
        { stale: true, text: `may be stale: the volume was not cleanly unmounted and its journal was not replayed (${error.message})` },
      ]);
    }
  }

  /** This volume as of its journal, replayed in memory; throws when the journal is unusable. */
  private async replayed(): Promise<ExtFileSystem> {
    if (this.sb.externalJournal || this.sb.journalInode === 0) throw new LifeboatError('unavailable', 'its journal is on another device');
    const journal = await this.inode(this.sb.journalInode);
    const runs = await this.runs(journal);
    const journalBlocks = Math.floor(journal.size / this.sb.blockSize);
    const readJournal = async (logical: number): Promise<Buffer> => {
      let low = 0;
      let high = runs.length - 1;
      while (low <= high) {
        const middle = (low + high) >> 1;
        const run = runs[middle] as { logical: number; physical: number; length: number };
        if (logical < run.logical) high = middle - 1;
        else if (logical >= run.logical + run.length) low = middle + 1;
        else return this.block(run.physical + logical - run.logical);
      }
      return bad(`journal block ${logical} is not mapped`);
    };
    const replay = await replayJournal(readJournal, journalBlocks, this.sb.blocksCount);
    const overlay = new JournalOverlayDisk(this.disk, this.sb.blockSize, replay, readJournal);
    // The superblock itself may be among the replayed blocks.
    const sb = parseExtSuperblock(await overlay.read(1024, 1024), overlay.capacity);
    const notes: VolumeNote[] = [
      {
        stale: false,
        text: `the volume was not cleanly unmounted; its journal was replayed in memory (${replay.transactions} transaction(s), ${replay.overlay.size} block(s))`,
      },
    ];
    for (const note of replay.notes) notes.push({ stale: true, text: `may be stale: ${note}` });
    return new ExtFileSystem(overlay, sb, notes);
  }

  private async block(number: number, count = 1): Promise<Buffer> {
    if (!Number.isSafeInteger(number) || number <= 0 || number + count > this.sb.blocksCount)
      bad(`block ${number} is outside the file system`);
    return this.disk.read(number * this.sb.blockSize, count * this.sb.blockSize);
  }

  private async inodeTable(group: number): Promise<number> {
    const cached = this.tables.get(group);
    if (cached !== undefined) return cached;
    const { blockSize, descriptorSize, firstDataBlock } = this.sb;
    const offset = (firstDataBlock + 1) * blockSize + group * descriptorSize;
    const descriptor = await this.disk.read(offset, descriptorSize);
    const table = descriptor.readUInt32LE(8) + (descriptorSize >= 64 ? descriptor.readUInt32LE(0x28) * 2 ** 32 : 0);
    this.tables.set(group, table);
    return table;
  }

  /** A block of an inode table, from the few read last: a folder's inodes are mostly neighbours,
   * so listing one reads each table block once, not once per inode. Never written to. */
  private async inodeBlock(number: number): Promise<Buffer> {
    const held = this.inodeBlocks.get(number);
    if (held) return held;
    const read = this.block(number);
    this.inodeBlocks.set(number, read);
    if (this.inodeBlocks.size > INODE_BLOCKS_HELD) this.inodeBlocks.delete(this.inodeBlocks.keys().next().value as number);
    read.catch(() => this.inodeBlocks.delete(number));
    return read;
  }

  /** The block group of inode `number` (refused when there is no such inode). */
  private groupOf(number: number): number {
    if (number < 1 || number > this.sb.inodesCount) bad(`inode ${number} does not exist`);
    return Math.floor((number - 1) / this.sb.inodesPerGroup);
  }

  /** The block holding inode `number` in its group's inode table, which starts at `table`. */
  private tableBlockOf(number: number, table: number): number {
    return table + Math.floor(((number - 1) % this.sb.inodesPerGroup) / (this.sb.blockSize / this.sb.inodeSize));
  }

  /** The inode-table block holding inode `number`. */
  private async inodeTableBlock(number: number): Promise<number> {
    return this.tableBlockOf(number, await this.inodeTable(this.groupOf(number)));
  }

  /** The inode-table blocks of a folder's entries, read ahead in runs (see block-runs.ts). An
   * inode number or group descriptor that cannot be read is left for `inode` to refuse with its
   * reason when the entry is described. */
  private async inodeBlocksOf(entries: readonly { inode: number }[]): Promise<Map<number, Buffer>> {
    const { inodesCount, inodesPerGroup, blockSize, blocksCount } = this.sb;
    const blocks: number[] = [];
    for (const { inode } of entries) {
      if (inode < 1 || inode > inodesCount) continue;
      const group = Math.floor((inode - 1) / inodesPerGroup);
      // The group's table is known after its first inode: no await per entry.
      const table =
        this.tables.get(group) ??
        (await this.inodeTable(group).catch((error: unknown) => {
          if (!isReadFailure(error)) throw error;
          return null;
        }));
      if (table === null) continue;
      const block = this.tableBlockOf(inode, table);
      if (block > 0 && block < blocksCount) blocks.push(block);
    }
    return readBlockRuns(blocks, blockSize, (first, count) => this.block(first, count));
  }

  /** Inode `number`. */
  private async inode(number: number): Promise<Inode> {
    return this.parseInode(number, await this.inodeBlock(await this.inodeTableBlock(number)));
  }

  /** Inode `number` from the table blocks read ahead for a listing; null when its block is not
   * among them (read then as any other). */
  private heldInode(number: number, held: Map<number, Buffer>): Inode | null {
    const table = this.tables.get(this.groupOf(number));
    if (table === undefined) return null;
    const block = held.get(this.tableBlockOf(number, table));
    return block ? this.parseInode(number, block) : null;
  }

  /** Inode `number` out of its inode-table block. */
  private parseInode(number: number, tableBlock: Buffer): Inode {
    const index = (number - 1) % this.sb.inodesPerGroup;
    const perBlock = this.sb.blockSize / this.sb.inodeSize;
    const at = (index % perBlock) * this.sb.inodeSize;
    const raw = tableBlock.subarray(at, at + this.sb.inodeSize);
    this.checkInode(number, raw);
    const mode = raw.readUInt16LE(0);
    const size = raw.readUInt32LE(4) + (typeOfMode(mode) === 'file' ? raw.readUInt32LE(108) * 2 ** 32 : 0);
    // File block numbers are 32-bit: a larger size is a damaged inode, not terabytes of holes.
    if (size > 2 ** 32 * this.sb.blockSize) bad(`inode ${number} claims ${size} bytes, more than ext4 can hold`);
    return {
      number,
      mode,
      size,
      mtime: inodeMtime(raw),
      flags: raw.readUInt32LE(32),
      block: raw.subarray(40, 100),
      raw,
      links: raw.readUInt16LE(26),
      allocated:
        (raw.readUInt32LE(28) + raw.readUInt16LE(116) * 2 ** 32) * (raw.readUInt32LE(32) & FLAG_HUGE_FILE ? this.sb.blockSize : 512),
    };
  }

  /** Under metadata_csum an inode carries a CRC-32C; a mismatch means a damaged inode, as the kernel
   * and e2fsck treat it. */
  private checkInode(number: number, raw: Buffer): void {
    if (this.sb.checksumSeed === null) return;
    const wide = raw.length > GOOD_OLD_INODE + 4 && raw.readUInt16LE(GOOD_OLD_INODE) >= 4;
    const stored = raw.readUInt16LE(0x7c) + (wide ? raw.readUInt16LE(0x82) * 0x10000 : 0);
    // The inode with its checksum fields as zeros, summed in pieces (no copy per inode).
    let sum = crc32c(this.inodeSeed(this.sb.checksumSeed, number, raw), raw, 0, 0x7c);
    sum = crc32c(sum, TWO_ZEROS);
    if (wide) sum = crc32c(crc32c(crc32c(sum, raw, 0x7e, 0x82), TWO_ZEROS), raw, 0x84);
    else sum = crc32c(sum, raw, 0x7e);
    if ((wide ? sum : sum & 0xffff) !== stored) bad(`inode ${number} fails its checksum (a damaged inode)`);
  }

  /** The seed of the checksums of an inode's own metadata blocks: the volume's, its number and generation. */
  private inodeSeed(volumeSeed: number, number: number, raw: Buffer): number {
    SEED_BYTES.writeUInt32LE(number, 0); // one buffer for every inode: filled and summed at once
    SEED_BYTES.writeUInt32LE(raw.readUInt32LE(100), 4);
    return crc32c(volumeSeed, SEED_BYTES);
  }

  /** An extent tree block's checksum, in the tail after its eh_max entries (metadata_csum). */
  private checkExtentBlock(inode: Inode, node: Buffer): void {
    if (this.sb.checksumSeed === null) return;
    const tail = 12 + node.readUInt16LE(4) * 12;
    if (tail + 4 > node.length) bad(`inode ${inode.number} has a damaged extent block`);
    if (crc32c(this.inodeSeed(this.sb.checksumSeed, inode.number, inode.raw), node.subarray(0, tail)) !== node.readUInt32LE(tail))
      bad(`inode ${inode.number} has an extent block that fails its checksum`);
  }

  /** A folder block's checksum, kept in a last fake entry (inode 0, 12 bytes, type 0xde) under
   * metadata_csum. Htree index blocks (the first block of an indexed folder, and nodes whose one
   * fake entry spans the block) keep theirs elsewhere and may hold an old leaf's tail: they are
   * read as plain blocks, their index unused. */
  private checkDirectoryBlock(dir: Inode, block: Buffer, logical: number): void {
    if (this.sb.checksumSeed === null || block.length < 12) return;
    if (dir.flags & FLAG_HTREE) {
      const spansBlock =
        block.readUInt32LE(0) === 0 &&
        (block.readUInt16LE(4) === block.length % 65536 || (block.length === 65536 && block.readUInt16LE(4) === 65535));
      if (logical === 0 || spansBlock) return;
    }
    const tail = block.length - 12;
    const isTail =
      block.readUInt32LE(tail) === 0 && block.readUInt16LE(tail + 4) === 12 && block[tail + 6] === 0 && block[tail + 7] === 0xde;
    if (!isTail) return;
    if (crc32c(this.inodeSeed(this.sb.checksumSeed, dir.number, dir.raw), block.subarray(0, tail)) !== block.readUInt32LE(tail + 8))
      bad(`directory inode ${dir.number} has a block that fails its checksum (a damaged folder)`);
  }

  /** File block → disk block runs, in file order; holes are absent. */
  private async runs(inode: Inode): Promise<{ logical: number; physical: number; length: number }[]> {
    const runs: { logical: number; physical: number; length: number }[] = [];
    const fileBlocks = Math.ceil(inode.size / this.sb.blockSize);
    if (inode.flags & FLAG_EXTENTS) {
      const walk = async (node: Buffer, depth: number): Promise<void> => {
        if (node.readUInt16LE(0) !== EXTENT_MAGIC) bad(`inode ${inode.number} has a damaged extent header`);
        const entries = node.readUInt16LE(2);
        const nodeDepth = node.readUInt16LE(6);
        if (nodeDepth !== depth || depth > MAX_EXTENT_DEPTH || 12 + entries * 12 > node.length)
          bad(`inode ${inode.number} has a damaged extent tree`);
        for (let i = 0; i < entries; i++) {
          const at = 12 + i * 12;
          if (depth === 0) {
            const rawLength = node.readUInt16LE(at + 4);
            const uninitialized = rawLength > 32768;
            const length = uninitialized ? rawLength - 32768 : rawLength;
            if (!uninitialized)
              runs.push({
                logical: node.readUInt32LE(at),
                physical: node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8),
                length,
              });
          } else {
            const child = node.readUInt32LE(at + 4) + node.readUInt16LE(at + 8) * 2 ** 32;
            const block = await this.block(child);
            this.checkExtentBlock(inode, block);
            await walk(block, depth - 1);
          }
        }
      };
      await walk(inode.block, inode.block.readUInt16LE(6));
    } else {
      const perBlock = this.sb.blockSize / 4;
      let logical = 0;
      const add = (physical: number): void => {
        if (physical !== 0 && logical < fileBlocks) runs.push({ logical, physical, length: 1 });
        logical++;
      };
      const indirect = async (pointer: number, level: number): Promise<void> => {
        if (logical >= fileBlocks) return;
        if (pointer === 0) {
          logical += perBlock ** level;
          return;
        }
        const table = await this.block(pointer);
        for (let i = 0; i < perBlock && logical < fileBlocks; i++) {
          const next = table.readUInt32LE(i * 4);
          if (level === 1) add(next);
          else await indirect(next, level - 1);
        }
      };
      for (let i = 0; i < 12; i++) add(inode.block.readUInt32LE(i * 4));
      for (let level = 1; level <= 3; level++) await indirect(inode.block.readUInt32LE((11 + level) * 4), level);
    }
    for (const run of runs) {
      if (run.logical + run.length > fileBlocks + 1 || run.physical + run.length > this.sb.blocksCount)
        bad(`inode ${inode.number} points outside the file system`);
    }
    return runs.sort((a, b) => a.logical - b.logical);
  }

  /** The content with holes as zeros: what every reader of bytes wants. */
  private async *content(inode: Inode): AsyncGenerator<Uint8Array> {
    yield* regionBytes(this.regions(inode));
  }

  private async *regions(inode: Inode): AsyncGenerator<FileRegion> {
    if (inode.flags & FLAG_INLINE_DATA) {
      yield inlineData(inode);
      return;
    }
    const { blockSize } = this.sb;
    let position = 0;
    for (const run of await this.runs(inode)) {
      const start = run.logical * blockSize;
      if (start > position) {
        yield { hole: Math.min(start, inode.size) - position };
        position = Math.min(start, inode.size);
      }
      for (let done = 0; done < run.length && position < inode.size;) {
        const count = Math.min(run.length - done, 256);
        const bytes = await this.block(run.physical + done, count);
        const take = Math.min(bytes.length, inode.size - position);
        yield bytes.subarray(0, take);
        position += take;
        done += count;
      }
    }
    if (position < inode.size) yield { hole: inode.size - position };
  }

  private async collect(inode: Inode, limit: number): Promise<Buffer> {
    if (inode.size > limit) bad(`inode ${inode.number} claims ${inode.size} bytes`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.content(inode)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  private async entries(dir: Inode): Promise<{ name: string; inode: number }[]> {
    // An inline folder starts with its parent's inode number (its '..'), then entries.
    const bytes =
      dir.flags & FLAG_INLINE_DATA
        ? Buffer.concat([dir.block.subarray(4), inlineDataTail(dir)])
        : await this.collect(dir, MAX_DIRECTORY_BYTES);
    if (!(dir.flags & FLAG_INLINE_DATA)) {
      for (let at = 0; at + this.sb.blockSize <= bytes.length; at += this.sb.blockSize)
        this.checkDirectoryBlock(dir, bytes.subarray(at, at + this.sb.blockSize), at / this.sb.blockSize);
    }
    const out: { name: string; inode: number }[] = [];
    for (let at = 0; at + 8 <= bytes.length;) {
      const inode = bytes.readUInt32LE(at);
      const recordLength = bytes.readUInt16LE(at + 4);
      const nameLength = bytes[at + 6] as number;
      if (recordLength < 8 || at + recordLength > bytes.length || 8 + nameLength > recordLength)
        bad(`directory inode ${dir.number} has a damaged entry`);
      const name = bytes.toString('utf8', at + 8, at + 8 + nameLength);
      if (inode !== 0 && name !== '.' && name !== '..') out.push({ name, inode });
      at += recordLength;
    }
    return out;
  }

  /** A folder's entries by name, from the cache of folders read last. */
  private async named(dir: Inode): Promise<NamedEntries<{ name: string; inode: number }>> {
    return this.folders.get(dir.number, () => this.entries(dir));
  }

  /** A fast symlink's target, kept in the inode itself; null for one kept in blocks. */
  private static inlineTarget(inode: Inode): string | null {
    if (inode.size < INLINE_BYTES && !(inode.flags & (FLAG_EXTENTS | FLAG_INLINE_DATA))) return inode.block.toString('utf8', 0, inode.size);
    return null;
  }

  private async symlinkTarget(inode: Inode): Promise<string> {
    return ExtFileSystem.inlineTarget(inode) ?? (await this.collect(inode, 4096)).toString('utf8');
  }

  private resolve(path: string, follow = false): Promise<Inode> {
    return walkPath(
      {
        root: 2,
        inode: (number) => this.inode(number),
        child: async (folder, name) => (await this.named(folder)).find(name),
        symlinkTarget: (inode) => this.symlinkTarget(inode),
      },
      path,
      follow,
    );
  }

  /** The entry of an inode: at once, unless a deeper extent tree or a symlink's target must be read. */
  private describe(name: string, inode: Inode): FsEntry | Promise<FsEntry> {
    const type = typeOfMode(inode.mode);
    // What the inode itself says about where its data is: checked here so a listing names a damaged entry.
    if (inode.flags & FLAG_INLINE_DATA) inlineData(inode);
    else if (inode.flags & FLAG_EXTENTS && type !== 'other') {
      if (inode.block.readUInt16LE(0) !== EXTENT_MAGIC) bad(`inode ${inode.number} has a damaged extent header`);
      // A deeper tree is read now, so a file whose map is damaged is named here, not when restored.
      if (type === 'file' && inode.block.readUInt16LE(6) > 0) return this.runs(inode).then(() => this.entryOf(name, inode, null));
    }
    if (type !== 'symlink') return this.entryOf(name, inode, null);
    const target = ExtFileSystem.inlineTarget(inode);
    return target !== null ? this.entryOf(name, inode, target) : this.symlinkTarget(inode).then((read) => this.entryOf(name, inode, read));
  }

  private entryOf(name: string, inode: Inode, target: string | null): FsEntry {
    const type = typeOfMode(inode.mode);
    const entry: FsEntry = {
      name,
      type,
      size: type === 'dir' ? 0 : inode.size,
      mtime: inode.mtime,
      mode: inode.mode & 0o7777,
      fileId: String(inode.number),
      links: inode.links,
    };
    if (type === 'file') entry.allocated = inode.allocated;
    if (target !== null) entry.target = target;
    return entry;
  }

  async list(path: string): Promise<FsEntry[]> {
    const dir = await this.resolve(path, true);
    if (typeOfMode(dir.mode) !== 'dir') throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    const { entries } = await this.named(dir);
    const held = await this.inodeBlocksOf(entries);
    return describeEach(entries, (entry) => {
      const inode = this.heldInode(entry.inode, held);
      return inode ? this.describe(entry.name, inode) : this.inode(entry.inode).then((read) => this.describe(entry.name, read));
    });
  }

  /** The entry's own name, not the path's (which may be its escaped name, see findNamed). */
  async stat(path: string): Promise<FsEntry> {
    const inode = await this.resolve(path);
    const parts = splitPath(path);
    const last = parts.at(-1);
    if (last === undefined) return this.describe('/', inode);
    const named = (await this.named(await this.resolve(parts.slice(0, -1).join('/'), true))).find(last);
    return this.describe(named?.name ?? last, inode);
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    yield* this.content(await this.regularFile(path));
  }

  async *readRegions(path: string): AsyncGenerator<FileRegion> {
    yield* this.regions(await this.regularFile(path));
  }

  private async regularFile(path: string): Promise<Inode> {
    const inode = await this.resolve(path, true);
    if (typeOfMode(inode.mode) !== 'file') throw new LifeboatError('bad-request', `${path} is not a regular file`);
    return inode;
  }
}
