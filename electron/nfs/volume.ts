// What the NFS server serves: a datastore holding one VM folder, which holds two kinds of files.
// Plain files are real files in the export folder's VM folder: the configuration, descriptors,
// and whatever the client makes (logs, nvram, swap). Virtual files are disks of a restore point:
// a read-only base under a copy-on-write cache in the cache folder. Writes never reach a base.
import { readdirSync, statSync } from 'node:fs';
import { appendFile, open, readFile, rename, rm, statfs, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Disk } from '../disks/disk.ts';
import { isErrnoCode } from '../errors.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';

export type NodeAttr = { fileid: number; type: 'file' | 'dir'; size: number; mode: number; mtimeMs: number };

/** Copy-on-write granularity of the cache: a write into an untouched chunk first copies it. */
export const CHUNK = 64 * 1024;
export const ROOT_ID = 1;
/** The one folder in the datastore's root: the VM's. */
export const VM_FOLDER_ID = 2;

/** `baseEnd`: the base shows through below it only; a shrink lowers it, so a file that grows
 * again reads zeros there, not the old bytes. */
type VirtualFile = {
  kind: 'virtual';
  id: number;
  name: string;
  base: Disk;
  baseEnd: number;
  size: number;
  mtimeMs: number;
  chunks: Set<number>;
  cache: Promise<FileHandle> | null;
};
type PlainFile = { kind: 'plain'; id: number; name: string };
type FileNode = VirtualFile | PlainFile;

/** `exportFolder/vmFolder` holds the plain files; the cache folder the disks' write caches. */
export type VolumeFolders = { exportFolder: string; vmFolder: string; cacheFolder: string };

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
  private nextId = VM_FOLDER_ID + 1;
  private readonly createdMs = Date.now();
  /** Bytes the cache holds (chunks written), for the sessions view. */
  cachedBytes = 0;

  constructor(name: string, folders: VolumeFolders, bases: { name: string; disk: Disk }[]) {
    this.name = name;
    this.folders = folders;
    for (const base of bases) {
      this.nodes.set(this.nextId, {
        kind: 'virtual',
        id: this.nextId,
        name: base.name,
        base: base.disk,
        baseEnd: base.disk.capacity,
        size: base.disk.capacity,
        mtimeMs: this.createdMs,
        chunks: new Set(),
        cache: null,
      });
      this.nextId++;
    }
    this.scan();
  }

  // ---- TEMPORARY SHIM (helper "resume", issue 26): only so a session can be served again after an
  // engine restart until helper "volume"'s durable cache (OverlayVolume.open with stable ids) is
  // merged; the lead keeps theirs and drops this. It journals each virtual file's written chunks
  // (<id>.chunks: u32 BE chunk numbers, appended) and, on resume, reopens the cache files as they
  // are. Plain files' ids are NOT kept (a shrink is not journaled either).
  static async open(
    name: string,
    folders: VolumeFolders,
    bases: { name: string; disk: Disk }[],
    options: { resume?: boolean } = {},
  ): Promise<OverlayVolume> {
    const volume = new OverlayVolume(name, folders, bases);
    if (!options.resume) return volume;
    for (const node of volume.nodes.values()) {
      if (node.kind !== 'virtual') continue;
      const journal = await readFile(volume.journalOf(node)).catch(() => Buffer.alloc(0));
      for (let at = 0; at + 4 <= journal.length; at += 4) node.chunks.add(journal.readUInt32BE(at));
      volume.cachedBytes += node.chunks.size * CHUNK;
      if (node.chunks.size > 0) node.cache = open(join(folders.cacheFolder, `${node.id}.cache`), 'r+');
    }
    return volume;
  }

  private journalOf(node: VirtualFile): string {
    return join(this.folders.cacheFolder, `${node.id}.chunks`);
  }
  // ---- end of the temporary shim ----

  /** Plain files are the export folder's own: files made there by others show up too. */
  private scan(): void {
    const present = new Set(
      readdirSync(this.vmPath, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => entry.name),
    );
    for (const node of [...this.nodes.values()]) if (node.kind === 'plain' && !present.has(node.name)) this.nodes.delete(node.id);
    const known = new Set([...this.nodes.values()].map((node) => node.name));
    for (const name of present) {
      if (known.has(name)) continue;
      this.nodes.set(this.nextId, { kind: 'plain', id: this.nextId, name });
      this.nextId++;
    }
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
    if (node.kind === 'virtual') return { fileid: node.id, type: 'file', size: node.size, mode: 0o644, mtimeMs: node.mtimeMs };
    try {
      const stats = statSync(this.plainPath(node));
      return { fileid: node.id, type: 'file', size: stats.size, mode: 0o644, mtimeMs: stats.mtimeMs };
    } catch {
      this.nodes.delete(node.id);
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
      .map((node) => ({ id: node.id, name: node.name, size: node.size, writtenChunks: [...node.chunks].sort((a, b) => a - b) }));
  }

  private cacheOf(node: VirtualFile): Promise<FileHandle> {
    node.cache ??= open(join(this.folders.cacheFolder, `${node.id}.cache`), 'w+', 0o600);
    return node.cache;
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
    const size = this.attr(id).size;
    const end = Math.min(size, offset + count);
    if (offset >= end) return { data: new Uint8Array(0), eof: true };
    if (node.kind === 'plain') {
      const out = Buffer.alloc(end - offset);
      await this.withPlain(node, 'r', (handle) => handle.read(out, 0, out.length, offset));
      return { data: out, eof: end >= size };
    }
    // Nothing of the range in the cache: the base's bytes as they come, no second copy.
    if (end <= node.baseEnd && !this.anyCached(node, offset, end))
      return { data: await node.base.read(offset, end - offset), eof: end >= size };
    const out = Buffer.alloc(end - offset);
    for (let at = offset; at < end;) {
      const chunk = Math.floor(at / CHUNK);
      const take = Math.min(end - at, (chunk + 1) * CHUNK - at);
      if (node.chunks.has(chunk)) await (await this.cacheOf(node)).read(out, at - offset, take, at);
      else if (at < node.baseEnd) {
        const fromBase = Math.min(take, node.baseEnd - at);
        out.set(await node.base.read(at, fromBase), at - offset);
      }
      at += take;
    }
    return { data: out, eof: end >= size };
  }

  private anyCached(node: VirtualFile, start: number, end: number): boolean {
    if (node.chunks.size === 0) return false;
    for (let chunk = Math.floor(start / CHUNK); chunk * CHUNK < end; chunk++) if (node.chunks.has(chunk)) return true;
    return false;
  }

  async write(id: number, offset: number, data: Uint8Array): Promise<void> {
    const node = this.node(id);
    if (node.kind === 'plain') {
      await storing(node.name, () => this.withPlain(node, 'r+', (handle) => handle.write(data, 0, data.length, offset)));
      return;
    }
    await storing(`the write cache of ${node.name}`, async () => {
      const cache = await this.cacheOf(node);
      const end = offset + data.length;
      const added: number[] = [];
      for (let chunk = Math.floor(offset / CHUNK); chunk * CHUNK < end; chunk++) {
        if (node.chunks.has(chunk)) continue;
        added.push(chunk);
        const start = chunk * CHUNK;
        const covered = offset <= start && end >= start + CHUNK;
        // Copy the untouched base under a partial write first, so the chunk reads whole.
        if (!covered && start < node.baseEnd) {
          const length = Math.min(CHUNK, node.baseEnd - start);
          await cache.write(await node.base.read(start, length), 0, length, start);
        }
        node.chunks.add(chunk);
        this.cachedBytes += CHUNK;
      }
      // TEMPORARY SHIM (see open): the chunk journal.
      if (added.length > 0) {
        const journal = Buffer.alloc(added.length * 4);
        added.forEach((chunk, index) => journal.writeUInt32BE(chunk, index * 4));
        await appendFile(this.journalOf(node), journal);
      }
      await cache.write(data, 0, data.length, offset);
      node.size = Math.max(node.size, end);
      node.mtimeMs = Date.now();
    });
  }

  async setSize(id: number, size: number): Promise<void> {
    const node = this.node(id);
    if (node.kind === 'plain') {
      await storing(node.name, () => truncate(this.plainPath(node), size));
      return;
    }
    if (size < node.size) {
      // Past the new end nothing shows through any more: cached chunks go, the base is cut,
      // and the tail of the last chunk is zeroed.
      for (const chunk of [...node.chunks]) if (chunk * CHUNK >= size) node.chunks.delete(chunk);
      node.baseEnd = Math.min(node.baseEnd, size);
      const lastChunk = Math.floor(size / CHUNK);
      if (node.chunks.has(lastChunk) && size % CHUNK !== 0) {
        const tail = Math.min((lastChunk + 1) * CHUNK, node.size) - size;
        await (await this.cacheOf(node)).write(new Uint8Array(tail), 0, tail, size);
      }
    }
    node.size = size;
    node.mtimeMs = Date.now();
  }

  async create(dirId: number, name: string, exclusive: boolean): Promise<number> {
    this.vmDir(dirId);
    checkName(name);
    this.scan();
    const existing = [...this.nodes.values()].find((node) => node.name === name);
    if (existing) {
      if (exclusive) throw new NfsStatusError(NfsStatus.exist, `${name} exists`);
      await this.setSize(existing.id, 0);
      return existing.id;
    }
    await storing(name, async () => (await open(join(this.vmPath, name), 'wx', 0o644)).close());
    this.scan();
    return this.lookup(dirId, name);
  }

  async remove(dirId: number, name: string): Promise<void> {
    this.vmDir(dirId);
    const node = this.node(this.lookup(dirId, name));
    this.nodes.delete(node.id);
    if (node.kind === 'plain') {
      await rm(this.plainPath(node), { force: true });
      return;
    }
    if (node.cache) await (await node.cache).close();
    await rm(join(this.folders.cacheFolder, `${node.id}.cache`), { force: true });
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
      this.nodes.delete(node.id);
      this.scan();
      return;
    }
    if (target) await this.remove(toDir, toName);
    node.name = toName;
  }

  async commit(): Promise<void> {
    for (const node of this.nodes.values()) if (node.kind === 'virtual' && node.cache) await (await node.cache).sync();
  }

  async usage(): Promise<{ total: number; free: number }> {
    const stats = await statfs(this.folders.cacheFolder);
    return { total: stats.blocks * stats.bsize, free: stats.bavail * stats.bsize };
  }

  /** Closes the cache files and the bases (the volume owns them). */
  async close(): Promise<void> {
    for (const node of this.nodes.values()) {
      if (node.kind !== 'virtual') continue;
      if (node.cache) await (await node.cache).close().catch(() => undefined);
      await node.base.close().catch(() => undefined);
    }
  }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new NfsStatusError(name.length > 255 ? NfsStatus.nametoolong : NfsStatus.inval, `"${name}" cannot be a file name`);
  }
}
