// What the NFS server serves: a datastore holding one VM folder, which holds two kinds of files.
// Plain files are real files in the export folder's VM folder: the configuration, descriptors,
// and whatever the client makes (logs, nvram, swap). Virtual files are disks of a restore point:
// a read-only base under a copy-on-write cache in the cache folder. Writes never reach a base.
//
// The cache folder describes itself (docs/formats/instant-cache.md): `volume.json` (volume-table.ts)
// holds the file ids, and per virtual disk `<id>.cache` and `<id>.map` (chunk-cache.ts,
// chunk-map.ts). A volume opened with `resume` after the engine was killed serves what the
// previous one acknowledged, under the same file ids.
import { readdirSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, statfs, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Disk } from '../disks/disk.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import { CHUNK, ChunkCache, Stable, type StableHow } from './chunk-cache.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';
import { loadTable, newTable, saveTable, saveTableAsync, type VolumeTable } from './volume-table.ts';

export { CHUNK, Stable, type StableHow };

export type NodeAttr = { fileid: number; type: 'file' | 'dir'; size: number; mode: number; mtimeMs: number };

export const ROOT_ID = 1;
/** The one folder in the datastore's root: the VM's. */
export const VM_FOLDER_ID = 2;

type VirtualFile = { kind: 'virtual'; id: number; name: string; cache: ChunkCache; mtimeMs: number };
type PlainFile = { kind: 'plain'; id: number; name: string };
type FileNode = VirtualFile | PlainFile;

/** `exportFolder/vmFolder` holds the plain files; the cache folder the disks' write caches. */
export type VolumeFolders = { exportFolder: string; vmFolder: string; cacheFolder: string };

export type VolumeBase = { name: string; disk: Disk };

/** File ids are reserved this many at a time in volume.json: one synchronous save per block. */
const ID_BLOCK = 256;

/** A full cache disk is the client's NOSPC, not a server fault. */
async function storing<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (isErrnoCode(error, 'ENOSPC') || isErrnoCode(error, 'EDQUOT'))
      throw new NfsStatusError(NfsStatus.nospc, `no space left for ${what}`);
    throw error;
  }
}

export class OverlayVolume {
  readonly name: string;
  readonly rootId = ROOT_ID;
  readonly folders: VolumeFolders;
  private readonly nodes = new Map<number, FileNode>();
  private readonly table: VolumeTable;
  /** The next file id to give: below `table.nextId`, which is saved before any id past it is given. */
  private nextFree: number;
  /** Saves of the table one after the other: the one queued (not started) takes later changes too. */
  private saving: Promise<void> = Promise.resolve();
  private queuedSave: Promise<void> | null = null;
  /** While `open` scans: the table is saved once when it ends (see open). */
  private opening = false;
  private readonly createdMs = Date.now();

  private constructor(name: string, folders: VolumeFolders, table: VolumeTable, disks: VirtualFile[]) {
    this.name = name;
    this.folders = folders;
    this.table = table;
    this.nextFree = table.nextId;
    for (const disk of disks) this.nodes.set(disk.id, disk);
    for (const file of table.files) this.nodes.set(file.id, { kind: 'plain', id: file.id, name: file.name });
  }

  /** Fresh (the default): the cache folder must be new or empty. `resume`: the state a previous
   * engine left there, refused if missing, damaged or made over other bases. The volume owns
   * the bases it serves (a resumed volume closes those of disks the client had deleted). */
  static async open(name: string, folders: VolumeFolders, bases: VolumeBase[], options: { resume?: boolean } = {}): Promise<OverlayVolume> {
    const { table, disks } = options.resume
      ? await resumeDisks(name, folders.cacheFolder, bases)
      : await freshDisks(name, folders.cacheFolder, bases);
    const volume = new OverlayVolume(name, folders, table, disks);
    try {
      // Saved once, off the event loop (the volume is not served yet, so no id is handed out
      // before the table holding it is durable): sync fsyncs here stalled the NFS replies of
      // every other session while many sessions started at once.
      volume.opening = true;
      volume.scan();
      volume.opening = false;
      await volume.saveSoon();
    } catch (error) {
      await Promise.all(disks.map((disk) => disk.cache.close()));
      throw error;
    }
    return volume;
  }

  /** Bytes the cache holds (chunks written), for the sessions view. */
  get cachedBytes(): number {
    let bytes = 0;
    for (const node of this.nodes.values()) if (node.kind === 'virtual') bytes += node.cache.cachedBytes;
    return bytes;
  }

  /** Plain files are the export folder's own: files made there by others show up too. A new
   * file's id is within the reserved block saved in the table; the new names are saved soon after. */
  private scan(): void {
    const present = new Set(
      readdirSync(this.vmPath, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name),
    );
    let changed = false;
    for (const node of [...this.nodes.values()])
      if (node.kind === 'plain' && !present.has(node.name)) {
        this.nodes.delete(node.id);
        changed = true;
      }
    const known = new Set([...this.nodes.values()].map((node) => node.name));
    for (const name of present) {
      if (known.has(name)) continue;
      const id = this.takeId();
      this.nodes.set(id, { kind: 'plain', id, name });
      changed = true;
    }
    if (changed) void this.saveSoon().catch(() => undefined); // a failed save is retried by the next
  }

  private takeId(): number {
    if (this.nextFree >= this.table.nextId) {
      this.table.nextId = this.nextFree + ID_BLOCK;
      if (!this.opening) this.saveNow();
    }
    return this.nextFree++;
  }

  /** The table as the nodes say now. */
  private currentTable(): VolumeTable {
    const names = new Map<number, string>();
    for (const node of this.nodes.values()) if (node.kind === 'virtual') names.set(node.id, node.name);
    for (const disk of this.table.disks) {
      const name = names.get(disk.id);
      if (name === undefined) disk.removed = true;
      else Object.assign(disk, { name, removed: false }); // a removal whose save failed is undone
    }
    this.table.files = [...this.nodes.values()].filter((node) => node.kind === 'plain').map((node) => ({ id: node.id, name: node.name }));
    return structuredClone(this.table);
  }

  private saveNow(): void {
    saveTable(this.folders.cacheFolder, this.currentTable());
  }

  private saveSoon(): Promise<void> {
    if (this.queuedSave) return this.queuedSave;
    const save = this.saving.then(() => {
      this.queuedSave = null;
      return saveTableAsync(this.folders.cacheFolder, this.currentTable());
    });
    this.queuedSave = save;
    this.saving = save.catch(() => undefined);
    return save;
  }

  private node(id: number): FileNode {
    const node = this.nodes.get(id);
    if (!node) throw new NfsStatusError(NfsStatus.stale, `no file ${id} in ${this.name}`);
    return node;
  }

  private get vmPath(): string {
    return join(this.folders.exportFolder, this.folders.vmFolder);
  }

  private dir(id: number): void {
    if (id !== ROOT_ID && id !== VM_FOLDER_ID)
      throw new NfsStatusError(this.nodes.has(id) ? NfsStatus.notdir : NfsStatus.stale, 'not a folder');
  }

  /** Files live in the VM folder only; the root holds nothing else. */
  private vmDir(id: number): void {
    this.dir(id);
    if (id !== VM_FOLDER_ID) throw new NfsStatusError(NfsStatus.acces, `only the VM folder ${this.folders.vmFolder} holds files`);
  }

  private plainPath(node: PlainFile): string {
    return join(this.vmPath, node.name);
  }

  attr(id: number): NodeAttr {
    if (id === ROOT_ID || id === VM_FOLDER_ID) return { fileid: id, type: 'dir', size: 4096, mode: 0o755, mtimeMs: this.createdMs };
    const node = this.node(id);
    if (node.kind === 'virtual') return { fileid: node.id, type: 'file', size: node.cache.fileSize, mode: 0o644, mtimeMs: node.mtimeMs };
    try {
      const stats = statSync(this.plainPath(node));
      return { fileid: node.id, type: 'file', size: stats.size, mode: 0o644, mtimeMs: stats.mtimeMs };
    } catch {
      this.nodes.delete(node.id);
      void this.saveSoon().catch(() => undefined);
      throw new NfsStatusError(NfsStatus.stale, `${node.name} is gone`);
    }
  }

  lookup(dirId: number, name: string): number {
    this.dir(dirId);
    if (name === '.') return dirId;
    if (name === '..') return ROOT_ID;
    if (dirId === ROOT_ID) {
      if (name === this.folders.vmFolder) return VM_FOLDER_ID;
      throw new NfsStatusError(NfsStatus.noent, `${name} does not exist`);
    }
    this.scan();
    for (const node of this.nodes.values()) if (node.name === name) return node.id;
    throw new NfsStatusError(NfsStatus.noent, `${name} does not exist`);
  }

  list(dirId: number): { name: string; id: number }[] {
    this.dir(dirId);
    if (dirId === ROOT_ID) return [{ name: this.folders.vmFolder, id: VM_FOLDER_ID }];
    this.scan();
    return [...this.nodes.values()].map((node) => ({ name: node.name, id: node.id }));
  }

  /** The virtual disks by name, with the chunks the client has written (for migration). */
  disks(): { id: number; name: string; size: number; writtenChunks: number[] }[] {
    return [...this.nodes.values()]
      .filter((node): node is VirtualFile => node.kind === 'virtual')
      .map((node) => ({ id: node.id, name: node.name, size: node.cache.fileSize, writtenChunks: node.cache.writtenChunks() }));
  }

  private async withPlain<T>(node: PlainFile, flags: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
    const handle = await open(this.plainPath(node), flags).catch((error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) throw new NfsStatusError(NfsStatus.stale, `${node.name} is gone`);
      throw error;
    });
    try {
      return await use(handle);
    } finally {
      await handle.close();
    }
  }

  async read(id: number, offset: number, count: number): Promise<{ data: Uint8Array; eof: boolean }> {
    const node = this.node(id);
    if (node.kind === 'virtual') return node.cache.read(offset, count);
    const size = this.attr(id).size;
    const end = Math.min(size, offset + count);
    if (offset >= end) return { data: new Uint8Array(0), eof: true };
    const out = Buffer.alloc(end - offset);
    await this.withPlain(node, 'r', (handle) => handle.read(out, 0, out.length, offset));
    return { data: out, eof: end >= size };
  }

  /** Writes at `offset`; returns how far the bytes are committed (NFS `committed`): as far as
   * `stable` asks, flushed to the disk before the return. Unstable writes are in the kernel
   * before the return too: a killed engine loses none of them. */
  async write(id: number, offset: number, data: Uint8Array, stable: StableHow = Stable.unstable): Promise<StableHow> {
    const node = this.node(id);
    if (node.kind === 'plain') {
      return storing(node.name, () =>
        this.withPlain(node, 'r+', async (handle) => {
          for (let done = 0; done < data.length;) done += (await handle.write(data, done, data.length - done, offset + done)).bytesWritten;
          if (stable !== Stable.unstable) await handle.datasync();
          return stable;
        }),
      );
    }
    const committed = await storing(`the write cache of ${node.name}`, () => node.cache.write(offset, data, stable));
    node.mtimeMs = Date.now();
    return committed;
  }

  async setSize(id: number, size: number): Promise<void> {
    const node = this.node(id);
    if (node.kind === 'plain') {
      await storing(node.name, () => truncate(this.plainPath(node), size));
      return;
    }
    await storing(`the write cache of ${node.name}`, () => node.cache.setSize(size));
    node.mtimeMs = Date.now();
  }

  async create(dirId: number, name: string, exclusive: boolean): Promise<number> {
    this.vmDir(dirId);
    checkName(name);
    this.scan();
    const existing = [...this.nodes.values()].find((node) => node.name === name);
    // UNCHECKED over an existing file is a SETATTR of the attributes sent (RFC 1813): the caller
    // applies the size if one was sent; nothing is cut here.
    if (existing) {
      if (exclusive) throw new NfsStatusError(NfsStatus.exist, `${name} exists`);
      return existing.id;
    }
    await storing(name, async () => (await open(join(this.vmPath, name), 'wx', 0o644)).close());
    this.scan();
    const id = this.lookup(dirId, name);
    await this.saveSoon(); // the new id is on the disk before the client gets its handle
    return id;
  }

  async remove(dirId: number, name: string): Promise<void> {
    this.vmDir(dirId);
    const node = this.node(this.lookup(dirId, name));
    this.nodes.delete(node.id);
    if (node.kind === 'plain') {
      await rm(this.plainPath(node), { force: true });
      this.scan();
      await this.saveSoon();
      return;
    }
    // The table says "removed" before the files go: a kill in between leaves no disk half there.
    // A failed save leaves the disk as it was: still served, its files open.
    try {
      await this.saveSoon();
    } catch (error) {
      this.nodes.set(node.id, node);
      throw error;
    }
    await node.cache.remove(this.folders.cacheFolder, node.id);
    await node.cache.base.close().catch(() => undefined);
  }

  async rename(fromDir: number, fromName: string, toDir: number, toName: string): Promise<void> {
    this.vmDir(fromDir);
    this.vmDir(toDir);
    const node = this.node(this.lookup(fromDir, fromName));
    checkName(toName);
    if (fromName === toName) return;
    const target = [...this.nodes.values()].find((other) => other.name === toName && other.id !== node.id);
    if (node.kind === 'plain') {
      if (target?.kind === 'virtual') await this.remove(toDir, toName);
      await rename(this.plainPath(node), join(this.vmPath, toName));
      // The file keeps its id (and the client its handle) under the new name; a file it replaced is gone.
      if (target?.kind === 'plain') this.nodes.delete(target.id);
      node.name = toName;
      this.scan();
      await this.saveSoon();
      return;
    }
    if (target) await this.remove(toDir, toName);
    node.name = toName;
    await this.saveSoon();
  }

  /** COMMIT: the file's writes (all files' without an id) and the table flushed to the disk. */
  async commit(id?: number): Promise<void> {
    await this.saving; // the table's names too
    const node = id === undefined ? null : this.node(id); // a stale handle is STALE, not "all disks"
    if (node?.kind === 'plain') {
      await this.withPlain(node, 'r', (handle) => handle.datasync());
      return;
    }
    const caches =
      node?.kind === 'virtual' ? [node.cache] : [...this.nodes.values()].flatMap((each) => (each.kind === 'virtual' ? [each.cache] : []));
    await Promise.all(caches.map((cache) => cache.sync()));
  }

  async usage(): Promise<{ total: number; free: number }> {
    const stats = await statfs(this.folders.cacheFolder);
    return { total: stats.blocks * stats.bsize, free: stats.bavail * stats.bsize };
  }

  /** Flushes and closes the cache files and closes the bases (the volume owns them). */
  async close(): Promise<void> {
    await this.saving;
    for (const node of this.nodes.values()) {
      if (node.kind !== 'virtual') continue;
      await node.cache.sync().catch(() => undefined);
      await node.cache.close().catch(() => undefined);
      await node.cache.base.close().catch(() => undefined);
    }
  }
}

async function freshDisks(name: string, folder: string, bases: VolumeBase[]): Promise<{ table: VolumeTable; disks: VirtualFile[] }> {
  await mkdir(folder, { recursive: true });
  const present = await readdir(folder);
  if (present.length > 0)
    throw new LifeboatError(
      'conflict',
      `the cache folder ${folder} already holds ${present.length} files: a new session starts in an empty one`,
    );
  const table = newTable(name);
  const disks: VirtualFile[] = [];
  try {
    for (const base of bases) {
      const id = table.nextId++;
      disks.push({ kind: 'virtual', id, name: base.name, cache: await ChunkCache.create(folder, id, base.disk), mtimeMs: Date.now() });
      table.disks.push({ id, base: base.name, name: base.name, capacity: base.disk.capacity, removed: false });
    }
  } catch (error) {
    await Promise.all(disks.map((disk) => disk.cache.close()));
    throw error;
  }
  return { table, disks };
}

async function resumeDisks(name: string, folder: string, bases: VolumeBase[]): Promise<{ table: VolumeTable; disks: VirtualFile[] }> {
  const table = loadTable(folder);
  if (table.volume !== name)
    throw new LifeboatError('conflict', `the cache folder ${folder} holds the session of ${table.volume}, not of ${name}`);
  const given = new Map(bases.map((base) => [base.name, base]));
  if (given.size !== bases.length) throw new LifeboatError('conflict', `two disks of ${name} have the same name`);
  for (const disk of table.disks) {
    const base = given.get(disk.base);
    if (!base && !disk.removed)
      throw new LifeboatError('conflict', `the session of ${name} served a disk ${disk.base} that the restore point does not have`);
    if (base && base.disk.capacity !== disk.capacity)
      throw new LifeboatError(
        'conflict',
        `the disk ${disk.base} of ${name} has ${base.disk.capacity} bytes, the session served ${disk.capacity}`,
      );
  }
  const served = new Set(table.disks.map((disk) => disk.base));
  for (const base of bases)
    if (!served.has(base.name)) throw new LifeboatError('conflict', `the session of ${name} did not serve a disk ${base.name}`);
  const disks: VirtualFile[] = [];
  try {
    for (const disk of table.disks) {
      if (disk.removed) continue;
      const base = given.get(disk.base) as VolumeBase;
      const cache = await ChunkCache.resume(folder, disk.id, base.disk, `${disk.name} of ${name}`);
      disks.push({ kind: 'virtual', id: disk.id, name: disk.name, cache, mtimeMs: Date.now() });
    }
  } catch (error) {
    await Promise.all(disks.map((disk) => disk.cache.close()));
    throw error;
  }
  // The client had deleted these: nothing serves them any more.
  for (const disk of table.disks) if (disk.removed) await given.get(disk.base)?.disk.close();
  return { table, disks };
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new NfsStatusError(name.length > 255 ? NfsStatus.nametoolong : NfsStatus.inval, `"${name}" cannot be a file name`);
  }
}
