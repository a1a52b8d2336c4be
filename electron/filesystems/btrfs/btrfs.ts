// btrfs read-only, in-process: the members of one file system (matched by fsid and devid), its
// chunk tree (logical → physical over single, DUP, RAID0/1/10, RAID1C3/4), the root tree (subvolumes,
// snapshots, the default subvolume) and the file system trees (inodes, folders by DIR_INDEX and
// DIR_ITEM, file extents inline, regular, prealloc, holes, zlib/lzo/zstd compressed).
// The volume's root is the top-level tree (id 5), as `mount -o subvolid=5` shows it: a subvolume
// is a folder where it sits. The on-disk layouts are described in superblock.ts, chunks.ts,
// tree.ts and items.ts.
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import {
  findNamed,
  isReadFailure,
  regionBytes,
  splitPath,
  typeOfMode,
  unreadableEntry,
  type FileRegion,
  type FileSystem,
  type FsEntry,
  type VolumeNote,
} from '../file-system.ts';
import { ChunkMap, parseChunk, parseSysChunkArray } from './chunks.ts';
import { decompress, MAX_COMPRESSED_RAM } from './compression.ts';
import { LogicalVolume } from './devices.ts';
import {
  FIRST_FREE_OBJECTID,
  FS_TREE,
  KEY,
  ROOT_TREE_DIR,
  findDirEntry,
  nameHash,
  parseDirEntries,
  parseFileExtent,
  parseInodeItem,
  parseInodeRefName,
  parseRootItem,
  parseRootRef,
  type DirEntry,
  type InodeItem,
  type RootItem,
} from './items.ts';
import { bad, readBtrfsSuperblock, type BtrfsSuperblock } from './superblock.ts';
import { MAX_KEY_PART, TreeReader, keyNumber, type Key, type TreeRoot } from './tree.ts';

export { probeBtrfs } from './superblock.ts';

const MAX_PATH_DEPTH = 64;
const MAX_SYMLINKS = 16;
const MAX_SUBVOLUME_DEPTH = 64;
const READ_CHUNK = 1024 * 1024;
const CHUNK_TREE_OBJECTID = 256;

/** A place in the volume: an inode of one tree; `empty` for a subvolume a snapshot copied only the
 * name of (the kernel shows an empty folder there, mode 0755, timed when it is looked up). */
type Node = { tree: number; inode: number; empty?: boolean };

/** The exact key btrfs files an item under. */
const key = (objectid: number, type: number, offset: number): Key => ({ objectid: BigInt(objectid), type, offset: BigInt(offset) });

const range = (objectid: number, type: number): [Key, Key] => [
  { objectid: BigInt(objectid), type, offset: 0n },
  { objectid: BigInt(objectid), type, offset: MAX_KEY_PART },
];

export class BtrfsFileSystem implements FileSystem {
  readonly kind = 'btrfs' as const;
  readonly label: string;
  private readonly fixedNotes: VolumeNote[] = [];
  /** The default subvolume's tree id (5 when it is the top level). */
  readonly defaultSubvolume: number;
  private readonly sb: BtrfsSuperblock;
  private readonly volume: LogicalVolume;
  private readonly trees: TreeReader;
  private readonly roots = new Map<number, RootItem>();
  private readonly treeRoots = new Map<number, TreeRoot>();

  private constructor(sb: BtrfsSuperblock, volume: LogicalVolume, trees: TreeReader, defaultSubvolume: number) {
    this.sb = sb;
    this.label = sb.label;
    this.volume = volume;
    this.trees = trees;
    this.defaultSubvolume = defaultSubvolume;
  }

  /** What the volume says about itself, and the damaged tree blocks read from their mirrors so far. */
  get notes(): VolumeNote[] {
    return [...this.fixedNotes, ...this.volume.mirrorReads.map((text) => ({ stale: false, text }))];
  }

  /** The members of one file system, in any order. */
  static async open(members: Disk[]): Promise<BtrfsFileSystem> {
    const byDevice = new Map<number, Disk>();
    let newest: BtrfsSuperblock | null = null;
    for (const disk of members) {
      const sb = await readBtrfsSuperblock(disk);
      if (sb === null) bad(`${disk.description} holds no btrfs superblock`);
      const found = sb as BtrfsSuperblock;
      if (newest !== null && found.fsid !== newest.fsid) bad(`${disk.description} belongs to another file system (${found.fsid})`);
      if (byDevice.has(found.deviceId)) bad(`two members claim device ${found.deviceId}`);
      byDevice.set(found.deviceId, disk);
      if (newest === null || found.generation > newest.generation) newest = found;
    }
    if (newest === null) bad('no members given');
    const sb = newest as BtrfsSuperblock;
    const volume = new LogicalVolume(byDevice, parseSysChunkArray(sb.sysChunkArray));
    const trees = new TreeReader(sb, volume);
    const chunks = new ChunkMap();
    const [min, max] = range(CHUNK_TREE_OBJECTID, KEY.chunkItem);
    for await (const item of trees.items({ bytenr: sb.chunkRoot, level: sb.chunkRootLevel }, min, max))
      chunks.add(parseChunk(item.data, 0, keyNumber(item.key.offset, 'a chunk address')).chunk);
    if (chunks.size === 0) bad('the chunk tree holds no chunks');
    volume.chunks = chunks;
    const defaultSubvolume = await BtrfsFileSystem.findDefault(sb, trees);
    const fs = new BtrfsFileSystem(sb, volume, trees, defaultSubvolume);
    await fs.describeVolume(byDevice);
    return fs;
  }

  /** The root tree's folder 6 holds "default", whose location names the default subvolume. */
  private static async findDefault(sb: BtrfsSuperblock, trees: TreeReader): Promise<number> {
    const name = Buffer.from('default');
    const root = { bytenr: sb.root, level: sb.rootLevel };
    const item = await trees.find(root, key(ROOT_TREE_DIR, KEY.dirItem, nameHash(name)));
    const entry = item === null ? undefined : findDirEntry(item, ROOT_TREE_DIR, name);
    return entry === undefined || entry.location.objectid === 0n ? FS_TREE : keyNumber(entry.location.objectid, 'the default subvolume');
  }

  private async describeVolume(members: Map<number, Disk>): Promise<void> {
    const missing: number[] = [];
    for (const devid of this.volume.chunks.devices()) if (!members.has(devid)) missing.push(devid);
    if (missing.length > 0)
      this.fixedNotes.push({
        stale: false,
        text: `device ${missing.join(', ')} of ${this.sb.devices} is missing: what it held is read from the mirrors where there are any; what lay only on it cannot be read`,
      });
    if (this.defaultSubvolume !== FS_TREE) {
      let name: string;
      try {
        name = await this.subvolumePath(this.defaultSubvolume);
      } catch (error) {
        if (!isReadFailure(error)) throw error;
        name = `id ${this.defaultSubvolume}`;
      }
      this.fixedNotes.push({ stale: false, text: `default subvolume: ${name}` });
    }
    if (this.sb.logRoot !== 0)
      this.fixedNotes.push({ stale: true, text: 'may be stale: the log tree (changes synced since the last commit) was not replayed' });
  }

  /** Where a subvolume sits, from the top level: ROOT_BACKREF names its parent tree and folder. */
  async subvolumePath(tree: number): Promise<string> {
    const parts: string[] = [];
    for (let current = tree, depth = 0; current !== FS_TREE; depth++) {
      if (depth > MAX_SUBVOLUME_DEPTH) bad(`subvolume ${tree} sits deeper than ${MAX_SUBVOLUME_DEPTH} levels`);
      const [min, max] = range(current, KEY.rootBackref);
      const back = await this.trees.first(this.rootTree(), min, max);
      if (back === null) bad(`subvolume ${current} has no parent`);
      const { folder, name } = parseRootRef((back as { data: Buffer }).data, current);
      const parent = keyNumber((back as { key: Key }).key.offset, `the parent of subvolume ${current}`);
      parts.unshift(name);
      parts.unshift(...(await this.folderPath(parent, folder)));
      current = parent;
    }
    return parts.join('/');
  }

  /** A folder's path inside its tree, by INODE_REF up to the tree's root folder. */
  private async folderPath(tree: number, folder: number): Promise<string[]> {
    const parts: string[] = [];
    const top = (await this.rootItem(tree)).rootDir;
    for (let current = folder, depth = 0; current !== top; depth++) {
      if (depth > MAX_PATH_DEPTH) bad(`folder ${folder} of tree ${tree} sits too deep`);
      const [min, max] = range(current, KEY.inodeRef);
      const ref = await this.trees.first(await this.treeRoot(tree), min, max);
      if (ref === null) bad(`folder ${current} of tree ${tree} has no name`);
      const { key: refKey, data } = ref as { key: Key; data: Buffer };
      parts.unshift(parseInodeRefName(data, current));
      current = keyNumber(refKey.offset, `the parent of folder ${current} of tree ${tree}`);
    }
    return parts;
  }

  private rootTree(): TreeRoot {
    return { bytenr: this.sb.root, level: this.sb.rootLevel };
  }

  private async rootItem(tree: number): Promise<RootItem> {
    const known = this.roots.get(tree);
    if (known) return known;
    const [min, max] = range(tree, KEY.rootItem);
    const item = await this.trees.first(this.rootTree(), min, max);
    if (item === null) throw new LifeboatError('corrupt-disk', `btrfs: subvolume ${tree} has no root item`);
    const root = parseRootItem(item.data, tree);
    this.roots.set(tree, root);
    return root;
  }

  private treeRoot(tree: number): TreeRoot | Promise<TreeRoot> {
    return this.treeRoots.get(tree) ?? this.loadTreeRoot(tree);
  }

  private async loadTreeRoot(tree: number): Promise<TreeRoot> {
    const root = await this.rootItem(tree);
    const at = { bytenr: root.bytenr, level: root.level, generation: root.generation };
    this.treeRoots.set(tree, at);
    return at;
  }

  private async inode(node: Node): Promise<InodeItem> {
    if (node.empty) return { size: 0, nbytes: 0, links: 1, uid: 0, gid: 0, mode: 0o40755, flags: 0, mtime: new Date(0) };
    const item = await this.trees.find(await this.treeRoot(node.tree), key(node.inode, KEY.inodeItem, 0));
    if (item === null) throw new LifeboatError('corrupt-disk', `btrfs: inode ${node.inode} of subvolume ${node.tree} is missing`);
    return parseInodeItem(item, node.inode);
  }

  /** Where an entry leads: an inode of the same tree, or a subvolume's root folder. */
  private async target(folder: Node, entry: DirEntry): Promise<Node> {
    const { location } = entry;
    const objectid = keyNumber(location.objectid, `where ${entry.name} points`);
    if (location.type === KEY.inodeItem) return { tree: folder.tree, inode: objectid };
    if (location.type !== KEY.rootItem) bad(`${entry.name} points at an item of type ${location.type}`);
    const child = objectid;
    // A snapshot copies the names of subvolumes inside it, not the subvolumes: without a
    // ROOT_REF from this tree the kernel shows an empty folder.
    const ref = await this.trees.find(this.rootTree(), key(folder.tree, KEY.rootRef, child));
    if (ref === null) return { tree: child, inode: FIRST_FREE_OBJECTID, empty: true };
    return { tree: child, inode: (await this.rootItem(child)).rootDir };
  }

  private async entries(folder: Node): Promise<DirEntry[]> {
    if (folder.empty) return [];
    const out: DirEntry[] = [];
    const [min, max] = range(folder.inode, KEY.dirIndex);
    for await (const leaf of this.trees.leaves(await this.treeRoot(folder.tree), min, max))
      for (const item of leaf) out.push(...parseDirEntries(item.data, folder.inode));
    return out;
  }

  /** One name in a folder by its DIR_ITEM hash, without reading the whole folder. */
  private async lookup(folder: Node, part: string): Promise<DirEntry | undefined> {
    if (folder.empty) return undefined;
    const name = Buffer.from(part, 'utf8');
    const item = await this.trees.find(await this.treeRoot(folder.tree), key(folder.inode, KEY.dirItem, nameHash(name)));
    const found = item === null ? undefined : findDirEntry(item, folder.inode, name);
    // A name not found as given may be the escaped form an item restore writes (findNamed).
    return found ?? findNamed(await this.entries(folder), part, false);
  }

  private async resolve(path: string, follow = false, hops = 0): Promise<Node> {
    const parts = splitPath(path);
    if (parts.length > MAX_PATH_DEPTH) throw new LifeboatError('bad-request', `${path} is too deep`);
    let current: Node = { tree: FS_TREE, inode: (await this.rootItem(FS_TREE)).rootDir };
    const trail = new Set([`${current.tree}:${current.inode}`]);
    for (const [index, part] of parts.entries()) {
      if (typeOfMode((await this.inode(current)).mode) !== 'dir')
        throw new LifeboatError('not-found', `${path}: ${parts.slice(0, index).join('/')} is not a folder`);
      const entry = await this.lookup(current, part);
      if (!entry) throw new LifeboatError('not-found', `${path}: no such file or folder`);
      current = await this.target(current, entry);
      const inode = await this.inode(current);
      const type = typeOfMode(inode.mode);
      if (type === 'dir') {
        const id = `${current.tree}:${current.inode}`;
        if (trail.has(id)) bad(`${path}: folder ${part} points back at a folder above it (a damaged folder entry)`);
        trail.add(id);
      }
      if (type === 'symlink' && (index < parts.length - 1 || follow)) {
        if (hops >= MAX_SYMLINKS) throw new LifeboatError('bad-request', `${path}: too many symbolic links`);
        const target = await this.symlinkTarget(current, inode);
        const base = target.startsWith('/') ? '' : parts.slice(0, index).join('/');
        return this.resolve(`${base}/${target}/${parts.slice(index + 1).join('/')}`, follow, hops + 1);
      }
    }
    return current;
  }

  private async symlinkTarget(node: Node, inode: InodeItem): Promise<string> {
    if (inode.size > 4096) bad(`symlink ${node.inode} claims ${inode.size} bytes`);
    const chunks: Uint8Array[] = [];
    for await (const region of this.regions(node, inode)) chunks.push(region instanceof Uint8Array ? region : new Uint8Array(region.hole));
    return Buffer.concat(chunks).toString('utf8');
  }

  private async describe(name: string, node: Node): Promise<FsEntry> {
    const inode = await this.inode(node);
    const type = typeOfMode(inode.mode);
    const entry: FsEntry = {
      name,
      type,
      size: type === 'dir' ? 0 : inode.size,
      mtime: node.empty ? null : inode.mtime,
      mode: inode.mode & 0o7777,
      fileId: `${node.tree}:${node.inode}`,
      links: inode.links,
    };
    if (type === 'file') entry.allocated = inode.nbytes;
    if (type === 'symlink') entry.target = await this.symlinkTarget(node, inode);
    return entry;
  }

  async list(path: string): Promise<FsEntry[]> {
    const folder = await this.resolve(path, true);
    if (typeOfMode((await this.inode(folder)).mode) !== 'dir') throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    const out: FsEntry[] = [];
    let first: FsEntry | null = null;
    const atTop = folder.tree === FS_TREE && splitPath(path).length === 0;
    for (const entry of await this.entries(folder)) {
      let described: FsEntry;
      try {
        described = await this.describe(entry.name, await this.target(folder, entry));
      } catch (error) {
        if (!isReadFailure(error)) throw error;
        described = unreadableEntry(entry.name, error);
      }
      // In the volume's root the default subvolume comes first.
      if (atTop && first === null && entry.location.type === KEY.rootItem && entry.location.objectid === BigInt(this.defaultSubvolume))
        first = described;
      else out.push(described);
    }
    return first === null ? out : [first, ...out];
  }

  /** The entry's own name, not the path's (which may be its escaped name, see findNamed). */
  async stat(path: string): Promise<FsEntry> {
    const parts = splitPath(path);
    const last = parts.at(-1);
    const node = await this.resolve(path);
    if (last === undefined) return this.describe('/', node);
    const parent = await this.resolve(parts.slice(0, -1).join('/'), true);
    const entry = await this.lookup(parent, last);
    return this.describe(entry?.name ?? last, node);
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    const { node, inode } = await this.regularFile(path);
    yield* regionBytes(this.regions(node, inode));
  }

  async *readRegions(path: string): AsyncGenerator<FileRegion> {
    const { node, inode } = await this.regularFile(path);
    yield* this.regions(node, inode);
  }

  private async regularFile(path: string): Promise<{ node: Node; inode: InodeItem }> {
    const node = await this.resolve(path, true);
    const inode = await this.inode(node);
    if (typeOfMode(inode.mode) !== 'file') throw new LifeboatError('bad-request', `${path} is not a regular file`);
    return { node, inode };
  }

  /** The file's extents in order, up to its size: data, and holes (absent, explicit or prealloc). */
  private async *regions(node: Node, inode: InodeItem): AsyncGenerator<FileRegion> {
    const size = inode.size;
    let position = 0;
    const [min, max] = range(node.inode, KEY.extentData);
    for await (const item of this.trees.items(await this.treeRoot(node.tree), min, max)) {
      if (item.key.offset >= BigInt(size)) break;
      const start = Number(item.key.offset);
      if (start < position) bad(`inode ${node.inode} has extents that overlap`);
      if (start > position) {
        yield { hole: start - position };
        position = start;
      }
      const extent = parseFileExtent(item.data, node.inode);
      if (extent.kind === 'inline') {
        const bytes =
          extent.compression === 0 ? extent.data : decompress(extent.compression, extent.data, extent.ramBytes, this.sb.sectorSize);
        const take = Math.min(bytes.length, size - position);
        if (take > 0) yield bytes.subarray(0, take);
        position += take;
        continue;
      }
      const length = Math.min(extent.length, size - position);
      if (length <= 0) continue;
      if (extent.kind === 'prealloc' || extent.diskBytenr === 0) yield { hole: length };
      else if (extent.compression !== 0) {
        if (extent.diskBytes < 1 || extent.diskBytes > MAX_COMPRESSED_RAM * 2)
          bad(`inode ${node.inode} has a compressed extent of ${extent.diskBytes} bytes`);
        if (extent.offset + length > extent.ramBytes) bad(`inode ${node.inode} has an extent that passes the end of its compressed data`);
        const whole = decompress(
          extent.compression,
          await this.volume.read(extent.diskBytenr, extent.diskBytes),
          extent.ramBytes,
          this.sb.sectorSize,
        );
        yield whole.subarray(extent.offset, extent.offset + length);
      } else {
        if (extent.offset + length > extent.diskBytes) bad(`inode ${node.inode} has an extent that passes the end of its data`);
        for (let done = 0; done < length;) {
          const count = Math.min(READ_CHUNK, length - done);
          yield await this.volume.read(extent.diskBytenr + extent.offset + done, count);
          done += count;
        }
      }
      position += length;
    }
    if (position < size) yield { hole: size - position };
  }
}
