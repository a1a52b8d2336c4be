// Item-level restore: picked files and folders of a restore point copied into a local folder,
// keeping modification times, modes (ext4) and symbolic links. A name that already exists is
// overwritten, kept beside as "name (restored)", or skipped, as the operator chose. The guest's
// names and links are outside input: they are escaped and written by a ContainedWriter, so
// nothing lands outside the target folder (fs/contained-writer.ts).
import { constants } from 'node:fs';
import { open, rm, rmdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LifeboatError } from '../errors.ts';
import { isReadFailure, regionBytes, type FileRegion, type FsEntry } from '../filesystems/file-system.ts';
import { mkdirForOperator, operatorMode } from '../fs/private-files.ts';
import { printableName } from '../../shared/format.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { ContainedWriter, type ClashPolicy } from '../fs/contained-writer.ts';
import { freeBytes } from '../fs/target-check.ts';
import { PointBrowser } from './point-browser.ts';
import { TarWriter, ZipWriter, type ArchiveKind, type ArchiveWriter, type ByteSink } from './archive.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import { isInsideVolume, splitVolumePath } from '../../shared/item-paths.ts';

export type { ClashPolicy } from '../fs/contained-writer.ts';
/** `archive`: one .zip or .tar in the target folder instead of loose files. `protectedPaths`:
 * the engine's home and repositories, never written into even when under the target. */
export type ItemRequest = {
  paths: string[];
  targetPath: string;
  onClash: ClashPolicy;
  archive?: ArchiveKind | undefined;
  archiveName?: string;
  keepSpecialBits?: boolean | undefined;
  protectedPaths?: string[];
};

/** How a download lays its items out: as in the guest below the picked items' parents, or every
 * file at the top of the archive (folders left out). */
export type ArchiveLayout = 'keep' | 'flatten';

/** A picked path must name something inside a volume: the rule of every item restore and download. */
export function checkItemPath(path: string): void {
  if (!isInsideVolume(path))
    throw new LifeboatError('bad-request', `${path}: pick items inside a volume (/diskN/partM/... or /lvm/<vg>/<lv>/...)`);
}

/** An archive that keeps no folders: a flattened download's items are all at its top. */
function withoutFolders(archive: ArchiveWriter): ArchiveWriter {
  return {
    directory: async () => undefined,
    symlink: (...link) => archive.symlink(...link),
    file: (...file) => archive.file(...file),
    ...(archive.hardLink ? { hardLink: archive.hardLink.bind(archive) } : {}),
    close: () => archive.close(),
  };
}

/** "name (2).ext": a flattened archive's second file of one name, named as a browser names a
 * second download of one name (files of one name in different folders are common, not damage). */
function numbered(name: string, n: number): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? `${name.slice(0, dot)} (${n})${name.slice(dot)}` : `${name} (${n})`;
}

/** Where each item goes in an archive, each entry name once. keep: paths relative to the picked
 * items' parents; a second entry of one path (a damaged guest folder) is "(duplicate)". flatten:
 * folders are placed nowhere (''), their files at the top, a clash numbered " (2)", " (3)"… */
function archivePlacement(
  layout: ArchiveLayout,
  context: StepContext,
): (parent: string | null, name: string, isFolder: boolean) => Promise<string> {
  const names = new Set<string>();
  return async (parent, name, isFolder) => {
    if (layout === 'flatten') {
      if (isFolder) return '';
      let entryName = name;
      for (let n = 2; names.has(entryName); n++) entryName = numbered(name, n);
      names.add(entryName);
      return entryName;
    }
    const wanted = parent ? `${parent}/${name}` : name;
    let entryName = wanted;
    for (let n = 1; names.has(entryName); n++) entryName = n === 1 ? `${wanted} (duplicate)` : `${wanted} (duplicate ${n})`;
    if (entryName !== wanted)
      context.log(`the guest holds two entries named ${JSON.stringify(wanted)}; the second is archived as ${JSON.stringify(entryName)}`);
    names.add(entryName);
    return entryName;
  };
}

/** `parent`: the source of the item it was found in; null for a picked one. */
type Item = { source: string; entry: FsEntry; parent: string | null };
/** What initialize finds: the open point, and every item to copy, parents before children. */
type Found = { browser: PointBrowser; items: Item[] };

const MAX_ITEMS = 100_000;
/** Loose files written at once: enough to keep the disk and the thread pool busy. */
const CONCURRENT_FILES = 8;

/** Which file an item is, across every volume of the point: its volume (/diskN/partM or
 * /lvm/<vg>/<lv>) and its `fileId`; null when the file has one name, or its file system does not say. */
function linkKey({ source, entry }: Item): string | null {
  if (entry.type !== 'file' || entry.fileId === undefined || (entry.links !== undefined && entry.links < 2)) return null;
  return `${splitVolumePath(source)?.volume ?? source}:${entry.fileId}`;
}

/** The files' bytes: their sizes, or what they take on disk (holes are not written). */
function fileBytes(items: Item[], measure: 'size' | 'allocated', linksOnce = true): number {
  const counted = new Set<string>();
  let sum = 0;
  for (const item of items) {
    const { entry } = item;
    if (entry.type !== 'file') continue;
    const key = linksOnce ? linkKey(item) : null;
    if (key !== null && counted.has(key)) continue; // a hard link takes no room again
    if (key !== null) counted.add(key);
    sum += measure === 'allocated' ? (entry.allocated ?? entry.size) : entry.size;
  }
  return sum;
}

export class RestoreItemsWork implements JobWork {
  static readonly plan = Plan.of<RestoreItemsWork>()
    .step('initialize', 'Open the restore point and find the items', (work, _none, context) => work.initialize(context))
    .step('copy-items', 'Copy the items', (work, found, context) => work.copy(found, context));
  readonly plan = RestoreItemsWork.plan.bind(this);
  private readonly openBrowser: () => Promise<PointBrowser>;
  private readonly request: ItemRequest;
  // What finish() closes; the counts result() reports.
  private browser: PointBrowser | null = null;
  private copied = 0;
  private skipped = 0;
  private escaped = 0;
  private unreadable = 0;
  private bytes = 0;
  private archivePath: string | null = null;

  /** `openBrowser`: where the items come from (a restore point, or a VM on a storage clone). */
  constructor(openBrowser: () => Promise<PointBrowser>, request: ItemRequest) {
    this.openBrowser = openBrowser;
    this.request = request;
  }

  /** Every picked path, folders expanded, parents before children; cancel is seen between folders. */
  private async initialize(context: StepContext): Promise<Found> {
    const browser = await this.openBrowser();
    this.browser = browser;
    throwIfCancelled(context.signal);
    const items: Item[] = [];
    for (const path of this.request.paths) {
      checkItemPath(path);
      const queue: Item[] = [{ source: path, entry: await browser.stat(path), parent: null }];
      // FAT looks names up without case (it forbids two names that differ only in case); the others by the exact name first.
      const caseless = browser.fileSystemFor(splitVolumePath(path)?.volume ?? path).kind === 'fat';
      while (queue.length > 0) {
        throwIfCancelled(context.signal);
        const item = queue.shift() as Item;
        items.push(item);
        if (items.length > MAX_ITEMS)
          throw new LifeboatError('bad-request', `more than ${MAX_ITEMS} items picked; restore the VM or pick fewer`);
        if (item.entry.type === 'dir')
          queue.push(...this.children(item, await this.readableEntries(browser, item.source, context), caseless, context));
      }
    }
    context.log(`${items.length} item(s), ${fileBytes(items, 'size')} bytes`);
    return { browser, items };
  }

  /** A picked folder's entries. Inside it, a folder or entry that cannot be read is left out with
   * a warning, as the index does; the rest is restored. */
  private async readableEntries(browser: PointBrowser, folder: string, context: StepContext): Promise<FsEntry[]> {
    let entries: FsEntry[];
    try {
      entries = await browser.list(folder);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      this.unreadable++;
      context.log(`not restored: ${folder}: its contents could not be read: ${error.message}`, 'warning');
      return [];
    }
    for (const entry of entries) {
      if (entry.problem === undefined) continue;
      this.unreadable++;
      context.log(`not restored: ${folder}/${printableName(entry.name)}: ${entry.problem}`, 'warning');
    }
    return entries.filter((entry) => entry.problem === undefined);
  }

  /** A folder's entries as items. A child is addressed by its escaped name (a name holding '/'
   * is reached so, see findNamed). A path names one entry: when a sibling already answers to
   * it (a damaged folder with two entries of one name, or a sibling whose own name is this one's
   * escaped name), reading it would read the sibling, so the child is left out, and the log
   * says so. */
  private children(folder: Item, entries: FsEntry[], caseless: boolean, context: StepContext): Item[] {
    const fold = (text: string): string => (caseless ? text.toLowerCase() : text);
    const own = new Set(entries.map((entry) => fold(entry.name)));
    const taken = new Set<string>();
    return entries.flatMap((entry) => {
      const { name, escaped } = escapeGuestName(entry.name);
      const key = fold(name);
      if ((escaped && own.has(key)) || taken.has(key)) {
        context.log(
          `${JSON.stringify(entry.name)} (${entry.type}) in ${folder.source}: another entry answers to ${JSON.stringify(name)}, so this one cannot be read by its path; left out`,
        );
        this.skipped++;
        return [];
      }
      taken.add(key);
      return [{ source: `${folder.source}/${name}`, entry, parent: folder.source }];
    });
  }

  /** A file's content, counted into the job's progress as it passes. */
  private async *counted(browser: PointBrowser, source: string, context: StepContext, total: number): AsyncGenerator<FileRegion> {
    for await (const region of browser.readRegions(source)) {
      throwIfCancelled(context.signal);
      this.bytes += region instanceof Uint8Array ? region.length : region.hole;
      context.progress(this.bytes, total);
      yield region;
    }
  }

  /** Every item, parents before children, at the place `place` gives it (null: skip it and its
   * children). A guest name that cannot be used as it is gets escaped, and the log says so.
   * Loose files are written a few at a time (each costs a dozen system calls, mostly waiting);
   * folders are made in order, before anything under them. A later name of a file already
   * written (same `fileId`: a hard link in the guest) is linked to the first, not copied. */
  private async writeItems(
    { browser, items }: Found,
    writer: ArchiveWriter | ContainedWriter,
    place: (parent: string | null, name: string, isFolder: boolean) => Promise<string | null>,
    context: StepContext,
    total: number,
  ): Promise<void> {
    const placed = new Map<string, string>();
    /** The first name written of each file with more than one name, and when it is done. */
    const firstNames = new Map<string, { at: string; done: Promise<boolean> }>();
    const inFlight = new Set<Promise<void>>();
    const track = (task: Promise<void>): Promise<void> => {
      const tracked: Promise<void> = task.finally(() => inFlight.delete(tracked));
      tracked.catch(() => undefined); // seen when awaited below; not an unhandled rejection meanwhile
      inFlight.add(tracked);
      return tracked;
    };
    try {
      for (const item of items) {
        throwIfCancelled(context.signal);
        const { entry } = item;
        const parentSource = item.parent ?? '';
        const parent = item.parent === null ? null : (placed.get(item.parent) ?? undefined);
        if (entry.type === 'other' || parent === undefined) {
          this.skipped++;
          continue;
        }
        const { name, escaped } = escapeGuestName(entry.name);
        if (escaped) {
          this.escaped++;
          context.log(
            `guest name ${JSON.stringify(entry.name)} in ${parentSource || '/'} is not a plain file name; written as ${JSON.stringify(name)}`,
          );
        }
        const at = await place(parent, name, entry.type === 'dir');
        if (at === null) {
          this.skipped++;
          continue;
        }
        placed.set(item.source, at);
        this.copied++;
        if (entry.type === 'dir') await writer.directory(at, entry.mtime, entry.mode);
        else if (entry.type === 'symlink') await writer.symlink(at, entry.target ?? '', entry.mtime);
        else {
          const key = linkKey(item);
          const first = key === null ? undefined : firstNames.get(key);
          if (first && (await this.linked(writer, at, first, entry))) continue;
          const done =
            writer instanceof ContainedWriter
              ? this.looseFile(writer, at, item, browser, context, total)
              : writer
                  .file(at, entry.size, entry.mtime, entry.mode, regionBytes(this.counted(browser, item.source, context, total)))
                  .then(() => true);
          if (key !== null && !first) firstNames.set(key, { at, done });
          if (!(writer instanceof ContainedWriter)) await done;
          else {
            track(done.then(() => undefined));
            if (inFlight.size >= CONCURRENT_FILES) await Promise.race(inFlight);
          }
        }
      }
      await Promise.all(inFlight);
    } catch (error) {
      await Promise.allSettled(inFlight); // nothing still writing when the caller takes the restore back
      throw error;
    }
    await writer.close();
  }

  /** A file written loose. One inside a picked folder whose source cannot be read (damage, or a
   * kind its reader refuses by name: NTFS system-compressed, EFS…) is removed and named in the log,
   * and the rest is restored, as for entries that cannot be listed; a picked file that cannot be
   * read fails the restore. True when the file was written. */
  private async looseFile(
    writer: ContainedWriter,
    at: string,
    item: Item,
    browser: PointBrowser,
    context: StepContext,
    total: number,
  ): Promise<boolean> {
    const { entry } = item;
    let readFailure: Error | null = null;
    const counted = this.counted(browser, item.source, context, total);
    const regions = async function* (): AsyncGenerator<FileRegion> {
      try {
        yield* counted;
      } catch (error) {
        if (isReadFailure(error)) readFailure = error;
        throw error;
      }
    };
    try {
      await writer.file(at, entry.size, entry.mtime, entry.mode, regions());
      return true;
    } catch (error) {
      const shortRead = error instanceof LifeboatError && error.code === 'corrupt-disk';
      if (item.parent === null || (readFailure === null && !shortRead)) throw error;
      await writer.abandon(at);
      this.copied--;
      this.unreadable++;
      context.log(`not restored: ${item.source}: ${(readFailure ?? (error as Error)).message}`, 'warning');
      return false;
    }
  }

  /** A later name of a file already written: a hard link where the target (or archive) has them.
   * False: write its bytes again (zip, or a target that cannot link there). */
  private async linked(
    writer: ArchiveWriter | ContainedWriter,
    at: string,
    first: { at: string; done: Promise<boolean> },
    entry: FsEntry,
  ): Promise<boolean> {
    if (!(await first.done)) return false; // the first name could not be read: this one is tried on its own
    if (writer instanceof ContainedWriter) return writer.link(at, first.at);
    if (!writer.hardLink) return false;
    await writer.hardLink(at, first.at, entry.mtime, entry.mode);
    return true;
  }

  private async checkRoom(root: string, needed: number, what: string): Promise<void> {
    const free = await freeBytes(root);
    if (free < needed) throw new LifeboatError('target-full', `target ${root} has ${free} bytes free; ${what} need ${needed}`);
  }

  /** Every item into one archive, paths relative to the picked items' parents; names escaped,
   * each entry name once, setuid/setgid/sticky dropped unless asked for. */
  private async copyToArchive(
    found: Found,
    context: StepContext,
    writer: ContainedWriter,
    kind: ArchiveKind,
    total: number,
  ): Promise<void> {
    await this.checkRoom(writer.root, total, 'the archived items (holes included)');
    const spot = await writer.place(null, escapeGuestName(`${this.request.archiveName ?? 'restored-items'}.${kind}`).name, false);
    if (spot === null) {
      context.log('the archive already exists and the policy is skip');
      this.skipped = found.items.length;
      return;
    }
    const file = spot.path;
    this.archivePath = file;
    const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    // The archive is the operator's, with their umask's mode (the engine's own umask is private).
    await handle.chmod(operatorMode('file'));
    const keepBits = this.request.keepSpecialBits ? 0o7777 : 0o777;
    try {
      const archive = kind === 'zip' ? new ZipWriter(handle, keepBits) : new TarWriter(handle, keepBits);
      await this.writeItems(found, archive, archivePlacement('keep', context), context, total);
    } catch (error) {
      await handle.close();
      await rm(file, { force: true });
      throw error;
    }
    await handle.sync();
    await handle.close();
    context.log(`${this.copied} item(s) written to ${file}`);
  }

  /** The picked items as one archive written to `sink` (a download, no job around it): the same
   * walk, names and checks as a restore into an archive. A failure throws mid-archive: the caller
   * must break the stream, so a cut archive never passes for a whole one. finish() closes the point. */
  async streamArchive(sink: ByteSink, kind: ArchiveKind, layout: ArchiveLayout, context: StepContext): Promise<void> {
    const found = await this.initialize(context);
    const keepBits = this.request.keepSpecialBits ? 0o7777 : 0o777;
    const archive = kind === 'zip' ? new ZipWriter(sink, keepBits) : new TarWriter(sink, keepBits);
    const total = fileBytes(found.items, 'size', kind !== 'zip');
    await this.writeItems(
      found,
      layout === 'flatten' ? withoutFolders(archive) : archive,
      archivePlacement(layout, context),
      context,
      total,
    );
  }

  private async copy(found: Found, context: StepContext): Promise<void> {
    const root = resolve(this.request.targetPath);
    // Folders made for the target are the operator's (the engine's own umask makes files private).
    const parents = await mkdirForOperator(dirname(root));
    const writer = await ContainedWriter.open(root, {
      onClash: this.request.onClash,
      keepSpecialBits: this.request.keepSpecialBits ?? false,
      protectedPaths: this.request.protectedPaths ?? [],
    }).catch(async (error: unknown) => {
      for (const folder of parents.reverse()) await rmdir(folder).catch(() => undefined);
      throw error;
    });
    // A zip holds a hard-linked file's bytes under each of its names; loose files and a tar once.
    const total = fileBytes(found.items, 'size', this.request.archive !== 'zip');
    try {
      if (this.request.archive) return await this.copyToArchive(found, context, writer, this.request.archive, total);
      await this.checkRoom(root, fileBytes(found.items, 'allocated'), 'the items');
      await this.writeItems(
        found,
        writer,
        async (parent, name, isFolder) => {
          const spot = await writer.place(parent, name, isFolder);
          if (spot?.note) context.log(spot.note);
          return spot?.path ?? null;
        },
        context,
        total,
      );
    } catch (error) {
      await writer.discard(); // a failed or cancelled restore leaves no half of itself behind
      for (const folder of parents.reverse()) await rmdir(folder).catch(() => undefined);
      throw error;
    }
    context.progress(total, total);
    context.log(
      `${this.copied} item(s) restored to ${root}, ${this.skipped} skipped${this.escaped > 0 ? `, ${this.escaped} name(s) escaped` : ''}${this.unreadable > 0 ? `, ${this.unreadable} could not be read` : ''}`,
      this.unreadable > 0 ? 'warning' : 'info',
    );
  }

  async finish(): Promise<void> {
    await this.browser?.close();
  }

  result(): Record<string, unknown> {
    return {
      copied: this.copied,
      skipped: this.skipped,
      escaped: this.escaped,
      unreadable: this.unreadable,
      bytes: this.bytes,
      target: resolve(this.request.targetPath),
      archive: this.archivePath,
    };
  }
}
