// An index job: every path inside a restore point (all disks, all readable partitions) goes into
// the catalog's file index, so a name can be found across VMs and versions without opening them.
// Damage is met item by item: a volume, folder or entry that cannot be read is left out and
// recorded with its reason (an index gap), and everything else is still indexed.
import type { Catalog } from '../catalog/catalog.ts';
import type { IndexGap, IndexedFile } from '../catalog/file-index.ts';
import { LifeboatError } from '../errors.ts';
import { isReadFailure, type FsEntry } from '../filesystems/file-system.ts';
import type { Repository } from '../repository/repository.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import type { FileEntry } from '../../shared/domain.ts';
import { listingOf } from './listed-entry.ts';
import { PointBrowser } from './point-browser.ts';

const MAX_FILES = 5_000_000;
const GAPS_IN_LOG = 20;

/** What the walk found: every readable path, and every one left out with its reason; the
 * listings above the volumes; `unlisted`: why the index cannot answer this point's listings
 * (null when it can). */
type Walked = { files: IndexedFile[]; gaps: IndexGap[]; aboveVolumes: Record<string, FileEntry[]>; unlisted: string | null };

/** An entry of `folder` as the index keeps it. */
export function indexedFile(folder: string, entry: FsEntry): IndexedFile {
  const mtime = entry.mtime?.getTime() ?? null;
  return {
    path: `${folder}/${entry.name}`,
    name: entry.name,
    type: entry.type,
    size: entry.size,
    mtime: mtime === null ? null : Math.floor(mtime / 1000),
    mtimeMs: mtime === null ? null : ((mtime % 1000) + 1000) % 1000, // past the second, before 1970 too
    mode: entry.mode,
    target: entry.target ?? null,
  };
}

/** The point's listings of /, each disk, /lvm and each volume group, each under the path it was
 * asked with; one that fails is left out (the point then answers it, with its error). */
async function listingsAboveVolumes(browser: PointBrowser): Promise<Record<string, FileEntry[]>> {
  const listings: Record<string, FileEntry[]> = {};
  const queue = ['/'];
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    let entries: FsEntry[];
    try {
      entries = await browser.list(path);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      continue;
    }
    listings[path] = listingOf(path, entries);
    const below = path === '/' ? '' : path === '/lvm' ? '/lvm' : null;
    if (below !== null) queue.push(...entries.filter((entry) => entry.type === 'dir').map((entry) => `${below}/${entry.name}`));
  }
  return listings;
}

/** Why a folder's entries, as the point's listing gave them, would not come back the same from
 * the index, or null: each entry is stored under its folder's path, '/' and its name, so a name
 * that is empty, '.', '..' or holds a '/' (a damaged file system) can land on another entry's
 * path or its folder's, and a name listed twice keeps one entry; notes and unreadable times are
 * not kept, nor NUL characters (the index keeps U+FFFD: PostgreSQL's text cannot hold U+0000). */
export function notKeptAsListed(folder: string, entries: readonly FsEntry[]): string | null {
  const names = new Set<string>();
  for (const entry of entries) {
    if (['', '.', '..'].includes(entry.name) || entry.name.includes('/'))
      return `${folder} holds an entry named ${JSON.stringify(entry.name)}`;
    if (names.has(entry.name)) return `${folder} names ${JSON.stringify(entry.name)} twice`;
    names.add(entry.name);
    if (entry.notes !== undefined) return `${folder}/${entry.name} has notes the index does not keep`;
    if (`${entry.name}${entry.target ?? ''}`.includes('\u0000'))
      return `${folder} holds ${JSON.stringify(entry.name)}, whose name or target has a NUL character (the index keeps U+FFFD)`;
    if (entry.mtime !== null && !Number.isFinite(entry.mtime.getTime())) return `${folder}/${entry.name} has an unreadable mtime`;
  }
  return null;
}

export class IndexPointWork implements JobWork {
  static readonly plan = Plan.of<IndexPointWork>()
    .step('initialize', 'Open the restore point', (work) => work.open())
    .step('walk-files', 'List every file', (work, browser, context) => work.walk(browser, context))
    .step('store-index', 'Store the index', async (work, walked, context) => work.store(walked, context));
  readonly plan = IndexPointWork.plan.bind(this);
  private readonly repository: Repository;
  private readonly catalog: Catalog;
  private readonly vmId: string;
  private readonly pointId: string;
  // What finish() closes; what the walk has found so far, for result() (a failed walk reports it too).
  private browser: PointBrowser | null = null;
  private readonly walked: Walked = { files: [], gaps: [], aboveVolumes: {}, unlisted: null };

  constructor(repository: Repository, catalog: Catalog, vmId: string, pointId: string) {
    this.repository = repository;
    this.catalog = catalog;
    this.vmId = vmId;
    this.pointId = pointId;
  }

  private async open(): Promise<PointBrowser> {
    const browser = await PointBrowser.open(this.repository, this.vmId, this.pointId);
    this.browser = browser;
    return browser;
  }

  private async walk(browser: PointBrowser, context: StepContext): Promise<Walked> {
    const { files, gaps } = this.walked;
    this.walked.aboveVolumes = await listingsAboveVolumes(browser);
    const queue: string[] = [];
    for (const volume of browser.volumes()) {
      if (volume.problem !== null) {
        gaps.push({ path: volume.path, kind: 'unreadable', reason: volume.problem });
        continue;
      }
      queue.push(volume.path);
      for (const note of volume.notes) {
        if (note.stale) gaps.push({ path: volume.path, kind: 'stale', reason: note.text });
        else context.log(`${volume.path}: ${note.text}`);
      }
    }
    while (queue.length > 0) {
      throwIfCancelled(context.signal);
      const folder = queue.shift() as string;
      let entries;
      try {
        entries = await browser.list(folder);
      } catch (error) {
        if (!isReadFailure(error)) throw error;
        gaps.push({ path: folder, kind: 'unreadable', reason: `its contents could not be read: ${error.message}` });
        continue;
      }
      this.walked.unlisted ??= notKeptAsListed(folder, entries);
      for (const entry of entries) {
        const path = `${folder}/${entry.name}`;
        if (entry.problem !== undefined) {
          gaps.push({ path, kind: 'unreadable', reason: entry.problem });
          continue;
        }
        files.push(indexedFile(folder, entry));
        if (files.length > MAX_FILES) throw new LifeboatError('bad-request', `more than ${MAX_FILES} files in one point; not indexed`);
        if (entry.type === 'dir') queue.push(path);
      }
    }
    return this.walked;
  }

  private store({ files, gaps, aboveVolumes, unlisted }: Walked, context: StepContext): void {
    const listings = unlisted === null ? { aboveVolumes: JSON.stringify(aboveVolumes) } : {};
    const count = this.catalog.files.indexPoint(this.vmId, this.pointId, files, gaps, listings);
    // Not a gap: everything is indexed and searchable; only listings read the point instead.
    if (unlisted !== null) context.log(`listings of this point read its disks, not the index: ${unlisted}`);
    const unreadable = gaps.filter((gap) => gap.kind === 'unreadable').length;
    context.log(
      `${count} path(s) indexed${unreadable > 0 ? `; ${unreadable} could not be read and are not in the index` : ''}`,
      unreadable > 0 ? 'warning' : 'info',
    );
    for (const gap of gaps.slice(0, GAPS_IN_LOG))
      context.log(`${gap.kind === 'stale' ? 'may be stale' : 'not indexed'}: ${gap.path}: ${gap.reason}`, 'warning');
    if (gaps.length > GAPS_IN_LOG) context.log(`…and ${gaps.length - GAPS_IN_LOG} more (files search shows them)`, 'warning');
  }

  async finish(): Promise<void> {
    await this.browser?.close();
  }

  result(): Record<string, unknown> {
    const { files, gaps } = this.walked;
    return { files: files.length, unreadable: gaps.filter((gap) => gap.kind === 'unreadable').length, gaps: gaps.slice(0, GAPS_IN_LOG) };
  }
}
