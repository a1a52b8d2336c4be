// XFS (v4 and v5) read-only: superblock, inodes located by number, data forks (local, extent
// lists, B+tree maps), short-form / block / leaf / node folders, inline and remote symlinks,
// holes and unwritten extents as holes. The log is not replayed: the volume's note says whether
// it ends cleanly. Formats are described at the top of each file of this folder.
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import {
  findNamed,
  splitPath,
  describeEach,
  regionBytes,
  typeOfMode,
  walkPath,
  type FileRegion,
  type FileSystem,
  type FsEntry,
  type VolumeNote,
} from '../file-system.ts';
import { checksumOk } from './checksum.ts';
import { DIR_LEAF_OFFSET_BYTES, parseDataBlock, parseShortForm, type DirEntry } from './directory.ts';
import { extentsOf, type Extent } from './extents.ts';
import { FORMAT_BTREE, FORMAT_EXTENTS, FORMAT_LOCAL, inodeOffset, parseInode, type XfsInode } from './inode.ts';
import { logNote } from './log.ts';
import { parseXfsSuperblock, type XfsSuperblock } from './superblock.ts';
import { LruCache } from '../lru.ts';
import { readBlockRuns } from '../block-runs.ts';

const MAX_SYMLINK_BYTES = 1024;
const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;
const SYMLINK_MAGIC = 0x58534c4d;
/** Listings kept for path lookups (a restore of a folder looks each of its files up), bounded in entries. */
const LISTING_CACHE_ENTRIES = 400_000;
const INODE_CACHE = 8192;
/** Blocks of the inode tables kept: a folder's inodes are mostly neighbours, read a block at a time. */
const INODE_BLOCK_CACHE = 1024;

/** A folder's entries, with a map by name so a lookup is not a scan. */
type Listing = { entries: DirEntry[]; byName: Map<string, DirEntry> };

export class XfsFileSystem implements FileSystem {
  readonly kind = 'xfs';
  readonly label: string;
  readonly notes: readonly VolumeNote[];
  private readonly disk: Disk;
  private readonly sb: XfsSuperblock;
  private readonly listings = new LruCache<number, Listing>(LISTING_CACHE_ENTRIES);
  private readonly inodes = new LruCache<number, XfsInode>(INODE_CACHE);
  private readonly inodeBlocks = new LruCache<number, Buffer>(INODE_BLOCK_CACHE);

  private constructor(disk: Disk, sb: XfsSuperblock, notes: VolumeNote[]) {
    this.disk = disk;
    this.sb = sb;
    this.label = sb.label;
    this.notes = notes;
  }

  static async open(disk: Disk): Promise<XfsFileSystem> {
    if (disk.capacity < 512) throw new LifeboatError('corrupt-disk', 'not a usable XFS file system (the volume is too small)');
    const first = await disk.read(0, Math.min(disk.capacity, 32 * 1024));
    const sb = parseXfsSuperblock(first, disk.capacity);
    if (sb.realtimeBlocks > 0) throw new LifeboatError('unavailable', 'XFS realtime subvolume: not read');
    if (sb.inProgress) throw new LifeboatError('corrupt-disk', 'not a usable XFS file system (mkfs did not finish)');
    const note = await logNote(sb, disk);
    return new XfsFileSystem(disk, sb, note ? [note] : []);
  }

  /** The owner of a path's file (the entry shape has no owner). */
  async owner(path: string): Promise<{ uid: number; gid: number; links: number }> {
    const inode = await this.resolve(path);
    return { uid: inode.uid, gid: inode.gid, links: inode.links };
  }

  private readBlocks(block: number, count: number): Promise<Buffer> {
    return this.disk.read(block * this.sb.blockSize, count * this.sb.blockSize);
  }

  /** Inode `number` (kept: a path lookup passes the same folders again). */
  private async inode(number: number): Promise<XfsInode> {
    const cached = this.inodes.get(number);
    if (cached) return cached;
    const offset = inodeOffset(this.sb, number);
    const block = Math.floor(offset / this.sb.blockSize);
    let bytes = this.inodeBlocks.get(block);
    if (!bytes) {
      bytes = await this.readBlocks(block, 1);
      this.inodeBlocks.set(block, bytes, 1);
    }
    const inode = this.parseAt(number, offset, bytes);
    this.inodes.set(number, inode, 1);
    return inode;
  }

  /** Inode `number` from the blocks read ahead for a listing (not kept: a listing's entries
   * are described once); null when its block is not among them. */
  private heldInode(number: number, held: Map<number, Buffer>): XfsInode | null {
    const offset = inodeOffset(this.sb, number);
    const bytes = held.get(Math.floor(offset / this.sb.blockSize));
    return bytes ? this.parseAt(number, offset, bytes) : null;
  }

  private parseAt(number: number, offset: number, block: Buffer): XfsInode {
    const at = offset % this.sb.blockSize;
    return parseInode(this.sb, number, block.subarray(at, at + this.sb.inodeSize));
  }

  private async extents(inode: XfsInode): Promise<Extent[]> {
    if (inode.realtime) throw new LifeboatError('unavailable', `XFS inode ${inode.number} is on the realtime subvolume: not read`);
    return extentsOf(this.sb, inode, (block) => this.readBlocks(block, 1));
  }

  /** The file's bytes as data and holes; unwritten extents are holes too (they read as zeros). */
  private async *regions(inode: XfsInode): AsyncGenerator<FileRegion> {
    if (inode.format === FORMAT_LOCAL) {
      if (inode.size > inode.dataFork.length)
        throw new LifeboatError('corrupt-disk', `XFS inode ${inode.number} claims more inline bytes than it holds`);
      yield Buffer.from(inode.dataFork.subarray(0, inode.size));
      return;
    }
    if (inode.format !== FORMAT_EXTENTS && inode.format !== FORMAT_BTREE)
      throw new LifeboatError('corrupt-disk', `XFS inode ${inode.number} has data fork format ${inode.format}`);
    const { blockSize } = this.sb;
    const chunkBlocks = Math.max(1, READ_CHUNK_BYTES / blockSize);
    let position = 0;
    for (const extent of await this.extents(inode)) {
      const start = extent.offset * blockSize;
      if (start >= inode.size) break;
      if (start > position) yield { hole: start - position };
      position = start;
      const end = Math.min(inode.size, start + extent.count * blockSize);
      if (extent.unwritten) {
        yield { hole: end - position };
        position = end;
        continue;
      }
      for (let done = 0; position < end; done += chunkBlocks) {
        const bytes = await this.readBlocks(extent.block + done, Math.min(chunkBlocks, extent.count - done));
        const take = Math.min(bytes.length, end - position);
        yield bytes.subarray(0, take);
        position += take;
      }
    }
    if (position < inode.size) yield { hole: inode.size - position };
  }

  private async *content(inode: XfsInode): AsyncGenerator<Uint8Array> {
    yield* regionBytes(this.regions(inode));
  }

  private async listing(dir: XfsInode): Promise<Listing> {
    const cached = this.listings.get(dir.number);
    if (cached) return cached;
    const entries = await this.entries(dir);
    // A damaged folder may name two entries alike: the first answers, as in every reader.
    const byName = new Map<string, DirEntry>();
    for (const entry of entries) if (!byName.has(entry.name)) byName.set(entry.name, entry);
    const listing = { entries, byName };
    this.listings.set(dir.number, listing, Math.max(1, entries.length));
    return listing;
  }

  private async entries(dir: XfsInode): Promise<DirEntry[]> {
    if (dir.format === FORMAT_LOCAL) {
      if (dir.size > dir.dataFork.length)
        throw new LifeboatError('corrupt-disk', `XFS folder inode ${dir.number} claims more inline bytes than it holds`);
      return parseShortForm(this.sb, dir.number, dir.dataFork.subarray(0, dir.size));
    }
    if (dir.format !== FORMAT_EXTENTS && dir.format !== FORMAT_BTREE)
      throw new LifeboatError('corrupt-disk', `XFS folder inode ${dir.number} has data fork format ${dir.format}`);
    const { blockSize } = this.sb;
    const dirBlocks = 2 ** this.sb.dirBlockLog;
    const leafStart = DIR_LEAF_OFFSET_BYTES / blockSize;
    // Data blocks live below the leaf offset; a directory block may span several extents.
    const where = new Map<number, number>();
    let total = 0;
    for (const extent of await this.extents(dir)) {
      if (extent.offset >= leafStart) break;
      const count = Math.min(extent.count, leafStart - extent.offset);
      total += count * blockSize;
      if (total > MAX_DIRECTORY_BYTES)
        throw new LifeboatError('corrupt-disk', `XFS folder inode ${dir.number} claims more than ${MAX_DIRECTORY_BYTES} bytes of entries`);
      for (let index = 0; index < count; index++) where.set(extent.offset + index, extent.block + index);
    }
    const starts = [...new Set([...where.keys()].map((offset) => offset - (offset % dirBlocks)))].sort((a, b) => a - b);
    const places = starts.map((first) =>
      Array.from({ length: dirBlocks }, (_, index) => {
        const block = where.get(first + index);
        if (block === undefined)
          throw new LifeboatError('corrupt-disk', `XFS folder inode ${dir.number} has a directory block with a hole`);
        return block;
      }),
    );
    // Every directory block asked for at once (a large folder's span several backup blocks);
    // parsed in directory order.
    const read = await Promise.all(places.map((blocks) => Promise.all(blocks.map((block) => this.readBlocks(block, 1)))));
    const out: DirEntry[] = [];
    for (const parts of read)
      out.push(...parseDataBlock(this.sb, dir.number, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts)));
    return out;
  }

  private async symlinkTarget(inode: XfsInode): Promise<string> {
    if (inode.size > MAX_SYMLINK_BYTES || inode.size === 0)
      throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} claims ${inode.size} bytes`);
    if (inode.format === FORMAT_LOCAL) {
      if (inode.size > inode.dataFork.length)
        throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} claims more inline bytes than it holds`);
      return inode.dataFork.toString('utf8', 0, inode.size);
    }
    if (inode.format !== FORMAT_EXTENTS)
      throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} has data fork format ${inode.format}`);
    const parts: Buffer[] = [];
    let have = 0;
    for (const extent of await this.extents(inode)) {
      for (let index = 0; index < extent.count && have < inode.size; index++) {
        const block = await this.readBlocks(extent.block + index, 1);
        if (this.sb.version === 5) {
          // Each block of a remote symlink starts with its own header (xfs_dsymlink_hdr, 56 bytes).
          const offset = block.readUInt32BE(4);
          const bytes = block.readUInt32BE(8);
          if (
            block.readUInt32BE(0) !== SYMLINK_MAGIC ||
            !checksumOk(block, 12) ||
            offset !== have ||
            bytes === 0 ||
            56 + bytes > block.length
          )
            throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} has a damaged block`);
          if (Number(block.readBigUInt64BE(32)) !== inode.number)
            throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} has a block of another inode`);
          parts.push(block.subarray(56, 56 + bytes));
          have += bytes;
        } else {
          parts.push(block);
          have += block.length;
        }
      }
    }
    if (have < inode.size) throw new LifeboatError('corrupt-disk', `XFS symlink inode ${inode.number} holds fewer bytes than it claims`);
    return Buffer.concat(parts).toString('utf8', 0, inode.size);
  }

  private async lookup(dir: XfsInode, part: string): Promise<DirEntry | undefined> {
    const listing = await this.listing(dir);
    return listing.byName.get(part) ?? findNamed(listing.entries, part, false);
  }

  private resolve(path: string, follow = false): Promise<XfsInode> {
    return walkPath(
      {
        root: this.sb.rootInode,
        inode: (number) => this.inode(number),
        child: (folder, name) => this.lookup(folder, name),
        symlinkTarget: (inode) => this.symlinkTarget(inode),
      },
      path,
      follow,
    );
  }

  /** The entry of an inode: at once, unless a B+tree map or a symlink's target must be read. */
  private describe(name: string, inode: XfsInode): FsEntry | Promise<FsEntry> {
    const type = typeOfMode(inode.mode);
    if (inode.realtime && type === 'file')
      throw new LifeboatError('unavailable', `XFS inode ${inode.number} is on the realtime subvolume: not read`);
    // A B+tree map is read now, so a file whose map is damaged is named in its listing, not when restored.
    if (type === 'file' && inode.format === FORMAT_BTREE) return this.extents(inode).then(() => this.entryOf(name, inode, null));
    if (type === 'symlink') return this.symlinkTarget(inode).then((target) => this.entryOf(name, inode, target));
    return this.entryOf(name, inode, null);
  }

  private entryOf(name: string, inode: XfsInode, target: string | null): FsEntry {
    const type = typeOfMode(inode.mode);
    return {
      name,
      type,
      size: type === 'dir' ? 0 : inode.size,
      mtime: inode.mtime,
      mode: inode.mode & 0o7777,
      fileId: String(inode.number),
      links: inode.links,
      ...(type === 'file' ? { allocated: inode.allocated } : {}),
      ...(target !== null ? { target } : {}),
    };
  }

  async list(path: string): Promise<FsEntry[]> {
    const dir = await this.resolve(path, true);
    if (typeOfMode(dir.mode) !== 'dir') throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    const { entries } = await this.listing(dir);
    const held = await this.inodeBlocksOf(entries);
    return describeEach(entries, (entry) => {
      const inode = this.inodes.get(entry.inode) ?? this.heldInode(entry.inode, held);
      return inode ? this.describe(entry.name, inode) : this.inode(entry.inode).then((read) => this.describe(entry.name, read));
    });
  }

  /** The inode blocks of a folder's entries, read ahead in runs (see block-runs.ts); a number
   * outside the file system is left for `inode` to refuse. */
  private inodeBlocksOf(entries: readonly DirEntry[]): Promise<Map<number, Buffer>> {
    const blocks: number[] = [];
    for (const entry of entries) {
      if (this.inodes.get(entry.inode)) continue;
      try {
        blocks.push(Math.floor(inodeOffset(this.sb, entry.inode) / this.sb.blockSize));
      } catch {
        // Refused with its reason when the entry is described.
      }
    }
    return readBlockRuns(blocks, this.sb.blockSize, (first, count) => this.readBlocks(first, count));
  }

  /** The entry's own name, not the path's (which may be its escaped name, see findNamed). */
  async stat(path: string): Promise<FsEntry> {
    const inode = await this.resolve(path);
    const parts = splitPath(path);
    const last = parts.at(-1);
    if (last === undefined) return this.describe('/', inode);
    const named = await this.lookup(await this.resolve(parts.slice(0, -1).join('/'), true), last);
    return this.describe(named?.name ?? last, inode);
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    yield* this.content(await this.regularFile(path));
  }

  async *readRegions(path: string): AsyncGenerator<FileRegion> {
    yield* this.regions(await this.regularFile(path));
  }

  private async regularFile(path: string): Promise<XfsInode> {
    const inode = await this.resolve(path, true);
    if (typeOfMode(inode.mode) !== 'file') throw new LifeboatError('bad-request', `${path} is not a regular file`);
    return inode;
  }
}
