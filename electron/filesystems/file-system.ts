// What the item-level code sees of any file system: list a folder, look a path up, read a file.
import type { Disk } from '../disks/disk.ts';
import { checkRange } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';
/** `problem`: the entry is named in its folder but could not be read (a damaged inode...).
 * `notes`: of a volume, what its file system says about itself (a replayed or stale journal).
 * `allocated`: the bytes a file takes on its disk, where the file system says (a sparse file's
 * is less than its size). */
export type FsEntry = {
  name: string;
  type: EntryType;
  size: number;
  mtime: Date | null;
  mode: number | null;
  target?: string;
  problem?: string;
  notes?: string[];
  allocated?: number;
  /** The file's identity in its volume (an inode or MFT record number): entries with the same
   * `fileId` are names of one file (hard links). */
  fileId?: string;
  /** How many names the file has, where the file system counts them. */
  links?: number;
};
/** Something the operator should know about a whole volume; `stale` when the view may miss the
 * newest changes (a journal that was not replayed). */
export type VolumeNote = { stale: boolean; text: string };

/** A file's content as data and holes (runs of zeros never stored). */
export type FileRegion = Uint8Array | { hole: number };

export interface FileSystem {
  readonly kind: 'ext4' | 'fat' | 'ntfs' | 'xfs' | 'btrfs';
  readonly label: string;
  readonly notes: readonly VolumeNote[];
  list(path: string): Promise<FsEntry[]>;
  stat(path: string): Promise<FsEntry>;
  /** The file's bytes in order, in chunks. */
  read(path: string): AsyncGenerator<Uint8Array>;
  /** The same as data and holes, where the file system knows its holes. */
  readRegions?(path: string): AsyncGenerator<FileRegion>;
}

/** The entry type the file type bits of a POSIX mode (S_IFMT: ext4, XFS, btrfs inodes) name. */
export function typeOfMode(mode: number): EntryType {
  const kind = mode & 0o170000;
  return kind === 0o100000 ? 'file' : kind === 0o040000 ? 'dir' : kind === 0o120000 ? 'symlink' : 'other';
}

const ZERO_CHUNK = 1024 * 1024;

/** A hole's zeros, a chunk at a time (each a fresh buffer the reader may keep): a sparse file may
 * be far larger than memory. */
export function* zeros(length: number): Generator<Uint8Array> {
  for (let left = length; left > 0; left -= ZERO_CHUNK) yield new Uint8Array(Math.min(ZERO_CHUNK, left));
}

/** A file's data and holes as its bytes: what every reader of bytes wants. */
export async function* regionBytes(regions: AsyncIterable<FileRegion>): AsyncGenerator<Uint8Array> {
  for await (const region of regions) {
    if (region instanceof Uint8Array) yield region;
    else yield* zeros(region.hole);
  }
}

/** A partition as a disk of its own: a window on its parent. */
export class DiskSlice implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly parent: Disk;
  private readonly start: number;

  constructor(parent: Disk, start: number, size: number, description: string) {
    this.parent = parent;
    this.start = start;
    this.capacity = Math.max(0, Math.min(size, parent.capacity - start));
    this.description = description;
  }

  read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    return this.parent.read(this.start + offset, length);
  }

  async close(): Promise<void> {}
}

/** The folders a path lookup has passed through. A damaged entry can point a folder back at one
 * of its ancestors: that is a loop, refused, not a deeper tree to walk. */
export class FolderTrail {
  private readonly seen: Set<number>;
  private readonly path: string;

  constructor(path: string, roots: number[]) {
    this.path = path;
    this.seen = new Set(roots);
  }

  enter(folder: number, name: string): void {
    if (this.seen.has(folder))
      throw new LifeboatError('corrupt-disk', `${this.path}: folder ${name} points back at a folder above it (a damaged directory entry)`);
    this.seen.add(folder);
  }
}

const MAX_PATH_DEPTH = 64;
const MAX_SYMLINKS = 16;

/** What a path walk needs of a file system whose files are numbered inodes (ext4, XFS). */
export type InodeTree<I extends { mode: number }> = {
  root: number;
  inode(number: number): Promise<I>;
  /** A folder's entry of that name (the guest's own name first, then its escaped name). */
  child(folder: I, name: string): Promise<{ inode: number } | undefined>;
  symlinkTarget(inode: I): Promise<string>;
};

/** The inode a path names, through symbolic links on the way (and at its end when `follow`);
 * bounded in depth and in links followed, and a folder that points back above itself refused. */
export async function walkPath<I extends { mode: number }>(tree: InodeTree<I>, path: string, follow = false, hops = 0): Promise<I> {
  const parts = splitPath(path);
  if (parts.length > MAX_PATH_DEPTH) throw new LifeboatError('bad-request', `${path} is too deep`);
  let current = await tree.inode(tree.root);
  const trail = new FolderTrail(path, [tree.root]);
  for (const [index, part] of parts.entries()) {
    if (typeOfMode(current.mode) !== 'dir')
      throw new LifeboatError('not-found', `${path}: ${parts.slice(0, index).join('/')} is not a folder`);
    const entry = await tree.child(current, part);
    if (!entry) throw new LifeboatError('not-found', `${path}: no such file or folder`);
    current = await tree.inode(entry.inode);
    if (typeOfMode(current.mode) === 'dir') trail.enter(entry.inode, part);
    const last = index === parts.length - 1;
    if (typeOfMode(current.mode) === 'symlink' && (!last || follow)) {
      if (hops >= MAX_SYMLINKS) throw new LifeboatError('bad-request', `${path}: too many symbolic links`);
      const target = await tree.symlinkTarget(current);
      const base = target.startsWith('/') ? '' : parts.slice(0, index).join('/');
      return walkPath(tree, `${base}/${target}/${parts.slice(index + 1).join('/')}`, follow, hops + 1);
    }
  }
  return current;
}

/** An entry whose own metadata cannot be read, listed with the reason instead of failing its folder. */
export function unreadableEntry(name: string, error: unknown): FsEntry {
  return { name, type: 'other', size: 0, mtime: null, mode: null, problem: (error as Error).message };
}

/** A folder's entries described one by one (an entry may describe as several: a file and its
 * streams); one whose own metadata cannot be read is listed with the reason, and the rest read.
 * `describe` answers at once when what it needs is at hand (read ahead): a promise per entry
 * of a folder of twenty thousand costs more than describing them. */
export async function describeEach<T extends { name: string }>(
  entries: Iterable<T>,
  describe: (entry: T) => FsEntry | FsEntry[] | Promise<FsEntry | FsEntry[]>,
): Promise<FsEntry[]> {
  const described: FsEntry[] = [];
  for (const entry of entries) {
    try {
      const answer = describe(entry);
      const found = answer instanceof Promise ? await answer : answer;
      if (Array.isArray(found)) described.push(...found);
      else described.push(found);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      described.push(unreadableEntry(entry.name, error));
    }
  }
  return described;
}

/** Damage met while reading a file system: a LifeboatError (other than a cancel) or a read past
 * the end of a buffer. Anything else is a defect of ours and is not hidden. */
export function isReadFailure(error: unknown): error is Error {
  return (error instanceof LifeboatError && error.code !== 'cancelled') || error instanceof RangeError;
}

/** The entry a path component names: by the guest's own name first, else by the name an item
 * restore writes for it (escapeGuestName), which is how a name holding '/' is reached. */
export function findNamed<T extends { name: string }>(entries: T[], part: string, caseless: boolean): T | undefined {
  const fold = (text: string): string => (caseless ? text.toLowerCase() : text);
  const wanted = fold(part);
  return entries.find((entry) => fold(entry.name) === wanted) ?? entries.find((entry) => fold(escapeGuestName(entry.name).name) === wanted);
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

export async function readAll(fs: FileSystem, path: string, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of fs.read(path)) {
    size += chunk.length;
    if (size > maxBytes) throw new RangeError(`${path} is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
