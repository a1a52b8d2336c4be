// An index job: every path inside a restore point (all disks, all readable partitions) goes into
// the catalog's file index, so a name can be found across VMs and versions without opening them.
import type { Catalog } from '../catalog/catalog.ts';
import type { IndexedFile } from '../catalog/file-index.ts';
import { LifeboatError } from '../errors.ts';
import type { Repository } from '../repository/repository.ts';
import type { JobWork } from '../engine/job-work.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { PointBrowser } from './point-browser.ts';

export const indexSteps = [
  { name: 'initialize', title: 'Open the restore point' },
  { name: 'walk-files', title: 'List every file' },
  { name: 'store-index', title: 'Store the index' },
] as const;

const MAX_FILES = 5_000_000;

export class IndexPointWork implements JobWork {
  readonly steps = indexSteps;
  private readonly repository: Repository;
  private readonly catalog: Catalog;
  private readonly vmId: string;
  private readonly pointId: string;
  private browser: PointBrowser | null = null;
  private files: IndexedFile[] = [];
  private skipped: string[] = [];

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
      const count = this.catalog.files.indexPoint(this.vmId, this.pointId, this.files);
      context.log(`${count} path(s) indexed${this.skipped.length ? `; not indexed: ${this.skipped.join('; ')}` : ''}`);
      return;
    }
    throw new LifeboatError('internal', `index has no step ${step}`);
  }

  private async walk(context: StepContext): Promise<void> {
    const browser = this.browser as PointBrowser;
    const queue: string[] = [];
    for (const disk of await browser.list('/')) {
      for (const volume of await browser.list(`/${disk.name}`)) {
        if (volume.type === 'dir') queue.push(`/${disk.name}/${volume.name}`);
        else this.skipped.push(`/${disk.name}/${volume.name} (${volume.target})`);
      }
    }
    while (queue.length > 0) {
      throwIfCancelled(context.signal);
      const folder = queue.shift() as string;
      for (const entry of await browser.list(folder)) {
        const path = `${folder}/${entry.name}`;
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
    return { files: this.files.length, skipped: this.skipped };
  }
}
