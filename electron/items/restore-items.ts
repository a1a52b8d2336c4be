// Item-level restore: picked files and folders of a restore point copied into a local folder,
// keeping modification times, modes (ext4) and symbolic links. A name that already exists is
// overwritten, kept beside as "name (restored)", or skipped, as the operator chose.
import { lstat, mkdir, open, rm, symlink, utimes, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { splitPath, type FsEntry } from '../filesystems/file-system.ts';
import type { Repository } from '../repository/repository.ts';
import type { JobWork } from '../engine/job-work.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { PointBrowser } from './point-browser.ts';
import { TarWriter, ZipWriter, type ArchiveKind } from './archive.ts';

export type ClashPolicy = 'overwrite' | 'keep-both' | 'skip';
/** `archive`: one .zip or .tar in the target folder instead of loose files. */
export type ItemRequest = { vmId: string; pointId: string; paths: string[]; targetPath: string; onClash: ClashPolicy; archive?: ArchiveKind | undefined; archiveName?: string };

export const itemSteps = [
  { name: 'initialize', title: 'Open the restore point and find the items' },
  { name: 'copy-items', title: 'Copy the items' },
] as const;

type Item = { source: string; entry: FsEntry };

const MAX_ITEMS = 100_000;

export class RestoreItemsWork implements JobWork {
  readonly steps = itemSteps;
  private readonly repository: Repository;
  private readonly request: ItemRequest;
  private browser: PointBrowser | null = null;
  private items: Item[] = [];
  private copied = 0;
  private skipped = 0;
  private bytes = 0;
  private archivePath: string | null = null;

  constructor(repository: Repository, request: ItemRequest) {
    this.repository = repository;
    this.request = request;
  }

  async run(step: string, context: StepContext): Promise<void> {
    if (step === 'initialize') return this.initialize(context);
    if (step === 'copy-items') return this.copy(context);
    throw new LifeboatError('internal', `item restore has no step ${step}`);
  }

  /** Every picked path, folders expanded, parents before children. */
  private async initialize(context: StepContext): Promise<void> {
    this.browser = await PointBrowser.open(this.repository, this.request.vmId, this.request.pointId);
    for (const path of this.request.paths) {
      if (splitPath(path).length < 3) throw new LifeboatError('bad-request', `${path}: pick items inside a partition (/diskN/partM/...)`);
      const queue: Item[] = [{ source: path, entry: await this.browser.stat(path) }];
      while (queue.length > 0) {
        const item = queue.shift() as Item;
        this.items.push(item);
        if (this.items.length > MAX_ITEMS) throw new LifeboatError('bad-request', `more than ${MAX_ITEMS} items picked; restore the VM or pick fewer`);
        if (item.entry.type === 'dir') for (const child of await this.browser.list(item.source)) queue.push({ source: `${item.source}/${child.name}`, entry: child });
      }
    }
    context.log(`${this.items.length} item(s), ${this.items.reduce((sum, item) => sum + (item.entry.type === 'file' ? item.entry.size : 0), 0)} bytes`);
  }

  private async placeFor(target: string): Promise<string | null> {
    try {
      await lstat(target);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return target;
      throw error;
    }
    if (this.request.onClash === 'skip') return null;
    if (this.request.onClash === 'overwrite') {
      await rm(target, { recursive: true, force: true });
      return target;
    }
    for (let n = 1; n < 1000; n++) {
      const candidate = n === 1 ? `${target} (restored)` : `${target} (restored ${n})`;
      try {
        await lstat(candidate);
      } catch (error) {
        if (isErrnoCode(error, 'ENOENT')) return candidate;
        throw error;
      }
    }
    throw new LifeboatError('conflict', `${target}: too many earlier copies`);
  }

  /** Every item into one archive, paths relative to the picked items' parents. */
  private async copyToArchive(context: StepContext, root: string, kind: ArchiveKind, total: number): Promise<void> {
    const browser = this.browser as PointBrowser;
    const file = await this.placeFor(join(root, `${this.request.archiveName ?? 'restored-items'}.${kind}`));
    if (file === null) {
      context.log('the archive already exists and the policy is skip');
      this.skipped = this.items.length;
      return;
    }
    this.archivePath = file;
    const handle = await open(file, 'wx', 0o644);
    try {
      const writer = kind === 'zip' ? new ZipWriter(handle) : new TarWriter(handle);
      const names = new Map<string, string>();
      for (const item of this.items) {
        throwIfCancelled(context.signal);
        const parts = splitPath(item.source);
        const parent = names.get(`/${parts.slice(0, -1).join('/')}`);
        const name = parent ? `${parent}/${item.entry.name}` : item.entry.name;
        names.set(item.source, name);
        if (item.entry.type === 'dir') await writer.directory(name, item.entry.mtime, item.entry.mode);
        else if (item.entry.type === 'symlink') await writer.symlink(name, item.entry.target ?? '', item.entry.mtime);
        else if (item.entry.type === 'file') {
          const counted = async function* (this: RestoreItemsWork): AsyncGenerator<Uint8Array> {
            for await (const chunk of browser.read(item.source)) {
              this.bytes += chunk.length;
              context.progress(this.bytes, total);
              yield chunk;
            }
          }.call(this);
          await writer.file(name, item.entry.size, item.entry.mtime, item.entry.mode, counted);
        } else {
          this.skipped++;
          continue;
        }
        this.copied++;
      }
      await writer.close();
    } catch (error) {
      await handle.close();
      await rm(file, { force: true });
      throw error;
    }
    await handle.sync();
    await handle.close();
    context.log(`${this.copied} item(s) written to ${file}`);
  }

  private async copy(context: StepContext): Promise<void> {
    const browser = this.browser as PointBrowser;
    const root = resolve(this.request.targetPath);
    await mkdir(root, { recursive: true });
    const total = this.items.reduce((sum, item) => sum + (item.entry.type === 'file' ? item.entry.size : 0), 0);
    if (this.request.archive) return this.copyToArchive(context, root, this.request.archive, total);
    const placed = new Map<string, string>();
    const times: [string, Date][] = [];
    for (const item of this.items) {
      throwIfCancelled(context.signal);
      const parts = splitPath(item.source);
      const parentSource = `/${parts.slice(0, -1).join('/')}`;
      const parent = placed.get(parentSource) ?? root;
      const target = await this.placeFor(join(parent, item.entry.name));
      if (target === null) {
        this.skipped++;
        continue;
      }
      placed.set(item.source, target);
      if (item.entry.type === 'dir') await mkdir(target);
      else if (item.entry.type === 'symlink') await symlink(item.entry.target ?? '', target);
      else if (item.entry.type === 'file') {
        const handle = await open(target, 'wx');
        try {
          for await (const chunk of browser.read(item.source)) {
            await handle.write(chunk);
            this.bytes += chunk.length;
            context.progress(this.bytes, total);
          }
        } finally {
          await handle.close();
        }
      } else {
        this.skipped++;
        continue;
      }
      if (item.entry.mode !== null && item.entry.type !== 'symlink') await chmod(target, item.entry.mode);
      if (item.entry.mtime && item.entry.type !== 'symlink') times.push([target, item.entry.mtime]);
      this.copied++;
    }
    // Times last: writing into a folder would change its own.
    for (const [path, mtime] of times.reverse()) await utimes(path, mtime, mtime);
    context.progress(total, total);
    context.log(`${this.copied} item(s) restored to ${root}, ${this.skipped} skipped`);
  }

  async finish(): Promise<void> {
    await this.browser?.close();
  }

  result(): Record<string, unknown> {
    return { copied: this.copied, skipped: this.skipped, bytes: this.bytes, target: resolve(this.request.targetPath), archive: this.archivePath };
  }
}
