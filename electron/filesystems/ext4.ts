// ext2/3/4 read-only: superblock, group descriptors (32- and 64-bit), inodes, extent trees and
// the classic indirect blocks, directories (htree ones read as plain blocks), fast and slow
// symlinks. Depths, counts and sizes from the disk are bounded before they are trusted.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { FolderTrail, findNamed, splitPath, type EntryType, type FileRegion, type FileSystem, type FsEntry } from './file-system.ts';

const EXT_MAGIC = 0xef53;
const EXTENT_MAGIC = 0xf30a;
const FLAG_EXTENTS = 0x80000;
const FLAG_HUGE_FILE = 0x40000;
const INCOMPAT_64BIT = 0x80;
const MAX_EXTENT_DEPTH = 5;
const MAX_PATH_DEPTH = 64;
const MAX_SYMLINKS = 16;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;

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
  return { blockSize, blocksCount, inodesCount, inodesPerGroup, blocksPerGroup, firstDataBlock, inodeSize, descriptorSize, groups, label: sb.toString('latin1', 120, 136).replace(/\0.*$/s, '') };
}

const ZERO_CHUNK = 1024 * 1024;

/** A hole's zeros, a chunk at a time: a sparse file may be far larger than memory. */
function* zeros(length: number): Generator<Uint8Array> {
  for (let left = length; left > 0; left -= ZERO_CHUNK) yield new Uint8Array(Math.min(ZERO_CHUNK, left));
}

/** `allocated`: i_blocks in bytes (512-byte units; file system blocks under the huge_file flag). */
type Inode = { number: number; mode: number; size: number; mtime: Date; flags: number; block: Buffer; allocated: number };

const typeOf = (mode: number): EntryType => {
  const kind = mode & 0xf000;
  return kind === 0x8000 ? 'file' : kind === 0x4000 ? 'dir' : kind === 0xa000 ? 'symlink' : 'other';
};

export class ExtFileSystem implements FileSystem {
  readonly kind = 'ext4' as const;
  readonly label: string;
  private readonly disk: Disk;
  private readonly sb: ExtSuperblock;
  private readonly tables = new Map<number, number>();

  private constructor(disk: Disk, sb: ExtSuperblock) {
    this.disk = disk;
    this.sb = sb;
    this.label = sb.label;
  }

  static async open(disk: Disk): Promise<ExtFileSystem> {
    if (disk.capacity < 2048) bad('volume too small');
    return new ExtFileSystem(disk, parseExtSuperblock(await disk.read(1024, 1024), disk.capacity));
  }

  private async block(number: number, count = 1): Promise<Buffer> {
    if (!Number.isSafeInteger(number) || number <= 0 || number + count > this.sb.blocksCount) bad(`block ${number} is outside the file system`);
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

  private async inode(number: number): Promise<Inode> {
    if (number < 1 || number > this.sb.inodesCount) bad(`inode ${number} does not exist`);
    const group = Math.floor((number - 1) / this.sb.inodesPerGroup);
    const index = (number - 1) % this.sb.inodesPerGroup;
    const table = await this.inodeTable(group);
    const raw = await this.disk.read(table * this.sb.blockSize + index * this.sb.inodeSize, 128);
    const mode = raw.readUInt16LE(0);
    return {
      number,
      mode,
      size: raw.readUInt32LE(4) + (typeOf(mode) === 'file' ? raw.readUInt32LE(108) * 2 ** 32 : 0),
      mtime: new Date(raw.readUInt32LE(16) * 1000),
      flags: raw.readUInt32LE(32),
      block: raw.subarray(40, 100),
      allocated: (raw.readUInt32LE(28) + raw.readUInt16LE(116) * 2 ** 32) * (raw.readUInt32LE(32) & FLAG_HUGE_FILE ? this.sb.blockSize : 512),
    };
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
        if (nodeDepth !== depth || depth > MAX_EXTENT_DEPTH || 12 + entries * 12 > node.length) bad(`inode ${inode.number} has a damaged extent tree`);
        for (let i = 0; i < entries; i++) {
          const at = 12 + i * 12;
          if (depth === 0) {
            const rawLength = node.readUInt16LE(at + 4);
            const uninitialized = rawLength > 32768;
            const length = uninitialized ? rawLength - 32768 : rawLength;
            if (!uninitialized) runs.push({ logical: node.readUInt32LE(at), physical: node.readUInt16LE(at + 6) * 2 ** 32 + node.readUInt32LE(at + 8), length });
          } else {
            const child = node.readUInt32LE(at + 4) + node.readUInt16LE(at + 8) * 2 ** 32;
            await walk(await this.block(child), depth - 1);
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
      if (run.logical + run.length > fileBlocks + 1 || run.physical + run.length > this.sb.blocksCount) bad(`inode ${inode.number} points outside the file system`);
    }
    return runs.sort((a, b) => a.logical - b.logical);
  }

  /** The content with holes as zeros: what every reader of bytes wants. */
  private async *content(inode: Inode): AsyncGenerator<Uint8Array> {
    for await (const region of this.regions(inode)) {
      if (region instanceof Uint8Array) yield region;
      else yield* zeros(region.hole);
    }
  }

  private async *regions(inode: Inode): AsyncGenerator<FileRegion> {
    const { blockSize } = this.sb;
    let position = 0;
    for (const run of await this.runs(inode)) {
      const start = run.logical * blockSize;
      if (start > position) {
        yield { hole: Math.min(start, inode.size) - position };
        position = Math.min(start, inode.size);
      }
      for (let done = 0; done < run.length && position < inode.size; ) {
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
    const bytes = await this.collect(dir, MAX_DIRECTORY_BYTES);
    const out: { name: string; inode: number }[] = [];
    for (let at = 0; at + 8 <= bytes.length; ) {
      const inode = bytes.readUInt32LE(at);
      const recordLength = bytes.readUInt16LE(at + 4);
      const nameLength = bytes[at + 6] as number;
      if (recordLength < 8 || at + recordLength > bytes.length || 8 + nameLength > recordLength) bad(`directory inode ${dir.number} has a damaged entry`);
      const name = bytes.toString('utf8', at + 8, at + 8 + nameLength);
      if (inode !== 0 && name !== '.' && name !== '..') out.push({ name, inode });
      at += recordLength;
    }
    return out;
  }

  private async symlinkTarget(inode: Inode): Promise<string> {
    if (inode.size < 60 && !(inode.flags & FLAG_EXTENTS)) return inode.block.toString('utf8', 0, inode.size);
    return (await this.collect(inode, 4096)).toString('utf8');
  }

  private async resolve(path: string, follow = false, hops = 0): Promise<Inode> {
    const parts = splitPath(path);
    if (parts.length > MAX_PATH_DEPTH) throw new LifeboatError('bad-request', `${path} is too deep`);
    let current = await this.inode(2);
    const trail = new FolderTrail(path, [2]);
    for (const [index, part] of parts.entries()) {
      if (typeOf(current.mode) !== 'dir') throw new LifeboatError('not-found', `${path}: ${parts.slice(0, index).join('/')} is not a folder`);
      const entry = findNamed(await this.entries(current), part, false);
      if (!entry) throw new LifeboatError('not-found', `${path}: no such file or folder`);
      current = await this.inode(entry.inode);
      if (typeOf(current.mode) === 'dir') trail.enter(entry.inode, part);
      const last = index === parts.length - 1;
      if (typeOf(current.mode) === 'symlink' && (!last || follow)) {
        if (hops >= MAX_SYMLINKS) throw new LifeboatError('bad-request', `${path}: too many symbolic links`);
        const target = await this.symlinkTarget(current);
        const base = target.startsWith('/') ? '' : parts.slice(0, index).join('/');
        current = await this.resolve(`${base}/${target}/${parts.slice(index + 1).join('/')}`, follow, hops + 1);
        break;
      }
    }
    return current;
  }

  private async describe(name: string, inode: Inode): Promise<FsEntry> {
    const type = typeOf(inode.mode);
    return {
      name, type, size: type === 'dir' ? 0 : inode.size, mtime: inode.mtime, mode: inode.mode & 0o7777,
      ...(type === 'file' ? { allocated: inode.allocated } : {}),
      ...(type === 'symlink' ? { target: await this.symlinkTarget(inode) } : {}),
    };
  }

  async list(path: string): Promise<FsEntry[]> {
    const dir = await this.resolve(path, true);
    if (typeOf(dir.mode) !== 'dir') throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    const out: FsEntry[] = [];
    for (const entry of await this.entries(dir)) out.push(await this.describe(entry.name, await this.inode(entry.inode)));
    return out;
  }

  /** The entry's own name, not the path's (which may be its escaped name, see findNamed). */
  async stat(path: string): Promise<FsEntry> {
    const inode = await this.resolve(path);
    const parts = splitPath(path);
    const last = parts.at(-1);
    if (last === undefined) return this.describe('/', inode);
    const named = findNamed(await this.entries(await this.resolve(parts.slice(0, -1).join('/'), true)), last, false);
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
    if (typeOf(inode.mode) !== 'file') throw new LifeboatError('bad-request', `${path} is not a regular file`);
    return inode;
  }
}
