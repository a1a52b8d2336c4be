// An index job: every path inside a restore point (all disks, all readable partitions) goes into
// the catalog's file index, so a name can be found across VMs and versions without opening them.
// Damage is met item by item: a volume, folder or entry that cannot be read is left out and
// recorded with its reason (an index gap), and everything else is still indexed.
import type { Catalog } from '../catalog/catalog.ts';
import type { IndexGap, IndexedFile } from '../catalog/file-index.ts';
import { LifeboatError } from '../errors.ts';
import { isReadFailure } from '../filesystems/file-system.ts';
import type { Repository } from '../repository/repository.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import { throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { PointBrowser } from './point-browser.ts';

export const indexSteps = [
  { name: 'initialize', title: 'Open the restore point' },
  { name: 'walk-files', title: 'List every file' },
  { name: 'store-index', title: 'Store the index' },
] as const;

const MAX_FILES = 5_000_000;
const GAPS_IN_LOG = 20;

export class IndexPointWork implements LegacyJobWork {
  readonly steps = indexSteps;
  private readonly repository: Repository;
  private readonly catalog: Catalog;
  private readonly vmId: string;
  private readonly pointId: string;
  private browser: PointBrowser | null = null;
  private files: IndexedFile[] = [];
  private gaps: IndexGap[] = [];

  constructor(repository: Repository, catalog: Catalog, vmId: string, pointId: string) {
    this.repository = repository;
    this.catalog = catalog;
    this.vmId = vmId;
    this.pointId = pointId;
  }

  async run(step: string, context: StepContext): Promise<void> {
    if (step === 'initialize') {
      this.browser = await PointBrowser.open(this.repository, this.vmId, this.pointId);
      return;
    }
    if (step === 'walk-files') return this.walk(context);
    if (step === 'store-index') {
      const count = this.catalog.files.indexPoint(this.vmId, this.pointId, this.files, this.gaps);
      const unreadable = this.gaps.filter((gap) => gap.kind === 'unreadable').length;
      context.log(`${count} path(s) indexed${unreadable > 0 ? `; ${unreadable} could not be read and are not in the index` : ''}`, unreadable > 0 ? 'warning' : 'info');
      for (const gap of this.gaps.slice(0, GAPS_IN_LOG)) context.log(`${gap.kind === 'stale' ? 'may be stale' : 'not indexed'}: ${gap.path}: ${gap.reason}`, 'warning');
      if (this.gaps.length > GAPS_IN_LOG) context.log(`…and ${this.gaps.length - GAPS_IN_LOG} more (files search shows them)`, 'warning');
      return;
    }
    throw new LifeboatError('internal', `index has no step ${step}`);
  }

  private async walk(context: StepContext): Promise<void> {
    const browser = this.browser as PointBrowser;
    const queue: string[] = [];
    for (const volume of browser.volumes()) {
      if (volume.problem !== null) {
        this.gaps.push({ path: volume.path, kind: 'unreadable', reason: volume.problem });
        continue;
      }
      queue.push(volume.path);
      for (const note of volume.notes) {
        if (note.stale) this.gaps.push({ path: volume.path, kind: 'stale', reason: note.text });
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
        this.gaps.push({ path: folder, kind: 'unreadable', reason: `its contents could not be read: ${error.message}` });
        continue;
      }
      for (const entry of entries) {
        const path = `${folder}/${entry.name}`;
        if (entry.problem !== undefined) {
          this.gaps.push({ path, kind: 'unreadable', reason: entry.problem });
          continue;
        }
        this.files.push({ path, name: entry.name, type: entry.type, size: entry.size, mtime: entry.mtime ? Math.floor(entry.mtime.getTime() / 1000) : null, mode: entry.mode });
        if (this.files.length > MAX_FILES) throw new LifeboatError('bad-request', `more than ${MAX_FILES} files in one point; not indexed`);
        if (entry.type === 'dir') queue.push(path);
      }
    }
  }

  async finish(): Promise<void> {
    await this.browser?.close();
  }

  result(): Record<string, unknown> {
    return { files: this.files.length, unreadable: this.gaps.filter((gap) => gap.kind === 'unreadable').length, gaps: this.gaps.slice(0, GAPS_IN_LOG) };
  }
}
