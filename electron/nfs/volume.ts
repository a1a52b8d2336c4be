// What the NFS server serves: a volume of files in one folder (a VM's datastore folder), each
// file a read-only base (a disk of a restore point, a configuration text) under a write cache, or
// a file the client made. Writes go to the cache, never to the base.
import { open, rm, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Disk } from '../disks/disk.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';

export type NodeAttr = { fileid: number; type: 'file' | 'dir'; size: number; mode: number; mtimeMs: number };

/** Copy-on-write granularity of the cache: a write into an untouched chunk first copies it. */
export const CHUNK = 64 * 1024;
export const ROOT_ID = 1;

/** `baseEnd`: the base shows through below it only; a shrink lowers it, so a file that grows
 * again reads zeros there, not the old bytes. */
type FileNode = { id: number; name: string; base: Disk | null; baseEnd: number; size: number; mtimeMs: number; chunks: Set<number>; cache: Promise<FileHandle> | null };

export class OverlayVolume {
  readonly name: string;
  readonly rootId = ROOT_ID;
  private readonly cacheFolder: string;
  private readonly nodes = new Map<number, FileNode>();
  private nextId = ROOT_ID + 1;
  private readonly createdMs = Date.now();
  /** Bytes the cache holds (chunks written), for the sessions view. */
  cachedBytes = 0;

  private readonly bases: Disk[];

  constructor(name: string, cacheFolder: string, bases: { name: string; disk: Disk }[]) {
    this.name = name;
    this.cacheFolder = cacheFolder;
    this.bases = bases.map((base) => base.disk);
    for (const base of bases) this.add(base.name, base.disk, base.disk.capacity);
  }

  private add(name: string, base: Disk | null, size: number): FileNode {
    const node: FileNode = { id: this.nextId++, name, base, baseEnd: base?.capacity ?? 0, size, mtimeMs: this.createdMs, chunks: new Set(), cache: null };
    this.nodes.set(node.id, node);
    return node;
  }

  private node(id: number): FileNode {
    const node = this.nodes.get(id);
    if (!node) throw new NfsStatusError(NfsStatus.stale, `no file ${id} in ${this.name}`);
    return node;
  }

  private dir(id: number): void {
    if (id !== ROOT_ID) throw new NfsStatusError(this.nodes.has(id) ? NfsStatus.notdir : NfsStatus.stale, 'not a folder');
  }

  attr(id: number): NodeAttr {
    if (id === ROOT_ID) return { fileid: ROOT_ID, type: 'dir', size: 4096, mode: 0o755, mtimeMs: this.createdMs };
    const node = this.node(id);
    return { fileid: node.id, type: 'file', size: node.size, mode: 0o644, mtimeMs: node.mtimeMs };
  }

  lookup(dirId: number, name: string): number {
    this.dir(dirId);
    if (name === '.' || name === '..') return ROOT_ID;
    for (const node of this.nodes.values()) if (node.name === name) return node.id;
    throw new NfsStatusError(NfsStatus.noent, `${name} does not exist`);
  }

  list(dirId: number): { name: string; id: number }[] {
    this.dir(dirId);
    return [...this.nodes.values()].map((node) => ({ name: node.name, id: node.id }));
  }

  private cacheOf(node: FileNode): Promise<FileHandle> {
    node.cache ??= open(join(this.cacheFolder, `${node.id}.cache`), 'w+', 0o600);
    return node.cache;
  }

  async read(id: number, offset: number, count: number): Promise<{ data: Uint8Array; eof: boolean }> {
    const node = this.node(id);
    const end = Math.min(node.size, offset + count);
    if (offset >= end) return { data: new Uint8Array(0), eof: true };
    const out = Buffer.alloc(end - offset);
    for (let at = offset; at < end; ) {
      const chunk = Math.floor(at / CHUNK);
      const take = Math.min(end - at, (chunk + 1) * CHUNK - at);
      if (node.chunks.has(chunk)) await (await this.cacheOf(node)).read(out, at - offset, take, at);
      else if (node.base && at < node.baseEnd) {
        const fromBase = Math.min(take, node.baseEnd - at);
        out.set(await node.base.read(at, fromBase), at - offset);
      }
      at += take;
    }
    return { data: out, eof: end >= node.size };
  }

  async write(id: number, offset: number, data: Uint8Array): Promise<void> {
    const node = this.node(id);
    const cache = await this.cacheOf(node);
    const end = offset + data.length;
    for (let chunk = Math.floor(offset / CHUNK); chunk * CHUNK < end; chunk++) {
      if (node.chunks.has(chunk)) continue;
      const start = chunk * CHUNK;
      const covered = offset <= start && end >= start + CHUNK;
      // Copy the untouched base under a partial write first, so the chunk reads whole.
      if (!covered && node.base && start < node.baseEnd) {
        const length = Math.min(CHUNK, node.baseEnd - start);
        await cache.write(await node.base.read(start, length), 0, length, start);
      }
      node.chunks.add(chunk);
      this.cachedBytes += CHUNK;
    }
    await cache.write(data, 0, data.length, offset);
    node.size = Math.max(node.size, end);
    node.mtimeMs = Date.now();
  }

  async setSize(id: number, size: number): Promise<void> {
    const node = this.node(id);
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
    this.dir(dirId);
    checkName(name);
    const existing = [...this.nodes.values()].find((node) => node.name === name);
    if (existing) {
      if (exclusive) throw new NfsStatusError(NfsStatus.exist, `${name} exists`);
      await this.setSize(existing.id, 0);
      return existing.id;
    }
    const node = this.add(name, null, 0);
    await this.cacheOf(node);
    return node.id;
  }

  async remove(dirId: number, name: string): Promise<void> {
    const node = this.node(this.lookup(dirId, name));
    this.nodes.delete(node.id);
    if (node.cache) await (await node.cache).close();
    await rm(join(this.cacheFolder, `${node.id}.cache`), { force: true });
  }

  async rename(fromDir: number, fromName: string, toDir: number, toName: string): Promise<void> {
    const node = this.node(this.lookup(fromDir, fromName));
    this.dir(toDir);
    checkName(toName);
    const target = [...this.nodes.values()].find((other) => other.name === toName && other.id !== node.id);
    if (target) await this.remove(toDir, toName);
    node.name = toName;
  }

  async commit(): Promise<void> {
    for (const node of this.nodes.values()) if (node.cache) await (await node.cache).sync();
  }

  async usage(): Promise<{ total: number; free: number }> {
    const stats = await statfs(this.cacheFolder);
    return { total: stats.blocks * stats.bsize, free: stats.bavail * stats.bsize };
  }

  /** Closes the cache files and the bases (the volume owns them). */
  async close(): Promise<void> {
    for (const node of this.nodes.values()) if (node.cache) await (await node.cache).close().catch(() => undefined);
    for (const base of this.bases) await base.close().catch(() => undefined);
  }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > 255 || name.includes('/') || name.includes('\0') || name === '.' || name === '..') {
    throw new NfsStatusError(name.length > 255 ? NfsStatus.nametoolong : NfsStatus.inval, `"${name}" cannot be a file name`);
  }
}
