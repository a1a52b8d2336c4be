// Item-level restore: picked files and folders of a restore point copied into a local folder,
// keeping modification times, modes (ext4) and symbolic links. A name that already exists is
// overwritten, kept beside as "name (restored)", or skipped, as the operator chose.
import { lstat, mkdir, open, rm, symlink, utimes, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { isReadFailure, splitPath, type FsEntry } from '../filesystems/file-system.ts';
import { giveToOperator, mkdirForOperator } from '../fs/private-files.ts';
import type { JobWork } from '../engine/job-work.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { PointBrowser } from './point-browser.ts';
import { TarWriter, ZipWriter, type ArchiveKind, type ArchiveWriter } from './archive.ts';

export type ClashPolicy = 'overwrite' | 'keep-both' | 'skip';
/** `archive`: one .zip or .tar in the target folder instead of loose files. */
export type ItemRequest = { paths: string[]; targetPath: string; onClash: ClashPolicy; archive?: ArchiveKind | undefined; archiveName?: string };

export const itemSteps = [
  { name: 'initialize', title: 'Open the restore point and find the items' },
  { name: 'copy-items', title: 'Copy the items' },
] as const;

type Item = { source: string; entry: FsEntry };

const MAX_ITEMS = 100_000;

/** Loose files and folders: modes kept, and modification times set last, since writing into
 * a folder would change its own. */
class FolderWriter implements ArchiveWriter {
  private readonly times: [string, Date][] = [];

  private async keep(path: string, mtime: Date | null, mode: number | null): Promise<void> {
    if (mode !== null) await chmod(path, mode);
    else await giveToOperator(path);
    if (mtime) this.times.push([path, mtime]);
  }

  async directory(path: string, mtime: Date | null, mode: number | null): Promise<void> {
    await mkdir(path);
    await this.keep(path, mtime, mode);
  }

  async symlink(path: string, target: string): Promise<void> {
    await symlink(target, path);
  }

  async file(path: string, _size: number, mtime: Date | null, mode: number | null, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const handle = await open(path, 'wx');
    try {
      for await (const chunk of chunks) await handle.write(chunk);
    } finally {
      await handle.close();
    }
    await this.keep(path, mtime, mode);
  }

  async close(): Promise<void> {
    for (const [path, mtime] of this.times.reverse()) await utimes(path, mtime, mtime);
  }
}

export class RestoreItemsWork implements JobWork {
  readonly steps = itemSteps;
  private readonly openBrowser: () => Promise<PointBrowser>;
  private readonly request: ItemRequest;
  private browser: PointBrowser | null = null;
  private items: Item[] = [];
  private copied = 0;
  private skipped = 0;
  private unreadable = 0;
  private bytes = 0;
  private archivePath: string | null = null;

  /** `openBrowser`: where the items come from (a restore point, or a VM on a storage clone). */
  constructor(openBrowser: () => Promise<PointBrowser>, request: ItemRequest) {
    this.openBrowser = openBrowser;
    this.request = request;
  }

  async run(step: string, context: StepContext): Promise<void> {
    if (step === 'initialize') return this.initialize(context);
    if (step === 'copy-items') return this.copy(context);
    throw new LifeboatError('internal', `item restore has no step ${step}`);
  }

  /** Every picked path, folders expanded, parents before children. */
  private async initialize(context: StepContext): Promise<void> {
    this.browser = await this.openBrowser();
    for (const path of this.request.paths) {
      if (splitPath(path).length < 3) throw new LifeboatError('bad-request', `${path}: pick items inside a partition (/diskN/partM/...)`);
      const queue: Item[] = [{ source: path, entry: await this.browser.stat(path) }];
      while (queue.length > 0) {
        const item = queue.shift() as Item;
        this.items.push(item);
        if (this.items.length > MAX_ITEMS) throw new LifeboatError('bad-request', `more than ${MAX_ITEMS} items picked; restore the VM or pick fewer`);
        if (item.entry.type === 'dir') for (const child of await this.children(item.source, context)) queue.push({ source: `${item.source}/${child.name}`, entry: child });
      }
    }
    context.log(`${this.items.length} item(s), ${this.items.reduce((sum, item) => sum + (item.entry.type === 'file' ? item.entry.size : 0), 0)} bytes`);
  }

  /** A picked folder's entries. Inside it, a folder or entry that cannot be read is left out with
   * a warning, as the index does; the rest is restored. */
  private async children(folder: string, context: StepContext): Promise<FsEntry[]> {
    let entries: FsEntry[];
    try {
      entries = await (this.browser as PointBrowser).list(folder);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      this.unreadable++;
      context.log(`not restored: ${folder}: its contents could not be read: ${error.message}`, 'warning');
      return [];
    }
    for (const entry of entries) {
      if (entry.problem === undefined) continue;
      this.unreadable++;
      context.log(`not restored: ${folder}/${entry.name}: ${entry.problem}`, 'warning');
    }
    return entries.filter((entry) => entry.problem === undefined);
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

  /** A file's chunks, counted into the job's progress as they pass. */
  private async *counted(source: string, context: StepContext, total: number): AsyncGenerator<Uint8Array> {
    for await (const chunk of (this.browser as PointBrowser).read(source)) {
      this.bytes += chunk.length;
      context.progress(this.bytes, total);
      yield chunk;
    }
  }

  /** Every item, parents before children, to the writer at the place `place` gives it (null:
   * skip it, and so its children). */
  private async writeItems(writer: ArchiveWriter, place: (parent: string | null, name: string) => Promise<string | null>, context: StepContext, total: number): Promise<void> {
    const placed = new Map<string, string>();
    for (const item of this.items) {
      throwIfCancelled(context.signal);
      const { entry } = item;
      if (entry.type === 'other') {
        this.skipped++;
        continue;
      }
      const parts = splitPath(item.source);
      const at = await place(placed.get(`/${parts.slice(0, -1).join('/')}`) ?? null, entry.name);
      if (at === null) {
        this.skipped++;
        continue;
      }
      placed.set(item.source, at);
      if (entry.type === 'dir') await writer.directory(at, entry.mtime, entry.mode);
      else if (entry.type === 'symlink') await writer.symlink(at, entry.target ?? '', entry.mtime);
      else await writer.file(at, entry.size, entry.mtime, entry.mode, this.counted(item.source, context, total));
      this.copied++;
    }
    await writer.close();
  }

  /** Every item into one archive, paths relative to the picked items' parents. */
  private async copyToArchive(context: StepContext, root: string, kind: ArchiveKind, total: number): Promise<void> {
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
      await this.writeItems(writer, async (parent, name) => (parent ? `${parent}/${name}` : name), context, total);
    } catch (error) {
      await handle.close();
      await rm(file, { force: true });
      throw error;
    }
    await handle.sync();
    await handle.close();
    await giveToOperator(file);
    context.log(`${this.copied} item(s) written to ${file}`);
  }

  private async copy(context: StepContext): Promise<void> {
    const root = resolve(this.request.targetPath);
    await mkdirForOperator(root);
    const total = this.items.reduce((sum, item) => sum + (item.entry.type === 'file' ? item.entry.size : 0), 0);
    if (this.request.archive) return this.copyToArchive(context, root, this.request.archive, total);
    await this.writeItems(new FolderWriter(), (parent, name) => this.placeFor(join(parent ?? root, name)), context, total);
    context.progress(total, total);
    context.log(`${this.copied} item(s) restored to ${root}, ${this.skipped} skipped${this.unreadable > 0 ? `, ${this.unreadable} could not be read` : ''}`, this.unreadable > 0 ? 'warning' : 'info');
  }

  async finish(): Promise<void> {
    await this.browser?.close();
  }

  result(): Record<string, unknown> {
    return { copied: this.copied, skipped: this.skipped, unreadable: this.unreadable, bytes: this.bytes, target: resolve(this.request.targetPath), archive: this.archivePath };
  }
}
