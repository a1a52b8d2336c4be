// Backup of a VM from a local datastore folder into a repository chain: a full point first,
// forward incrementals after, each storing only blocks that changed since its parent. Blocks
// already stored anywhere in the chain are referenced, not stored again; zero blocks are holes.
// The repository side (chain, block store, maps, commit) is point-writer.ts's.
import { join } from 'node:path';
import { openDiskChain } from '../disks/vmdk-chain.ts';
import { LifeboatError } from '../errors.ts';
import { diskCapacityProblem } from '../repository/manifest-check.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { AuditHead } from '../catalog/audit-anchors.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
import { readSourceVm, type SourceVm } from '../disks/vm-folder.ts';
import type { BackupKey } from '../keys/key-service.ts';
import { PointWriter, type DiskToWrite } from './point-writer.ts';

/** What initialize finds: the VM and its disks (open); the writer holds the chain found. */
type Opened = { source: SourceVm; disks: DiskToWrite[] };

function capacityOf(disks: DiskToWrite[]): number {
  return disks.reduce((sum, entry) => sum + entry.disk.capacity, 0);
}

export class BackupWork implements JobWork {
  static readonly plan = Plan.of<BackupWork>()
    .step('initialize', 'Initialization: read the VM, open its disks, find the chain', (work, _none, context) => work.initialize(context))
    .step('read-configuration', 'Read the VM configuration', (work, opened, context) => work.readConfiguration(opened, context))
    .step('transfer-disks', 'Read disks, keep changed blocks', (work, opened, context) => work.transferDisks(opened, context))
    .step('commit-point', 'Commit the restore point', (work, opened, context) => work.commit(opened, context));
  readonly plan = BackupWork.plan.bind(this);
  // What finish() closes.
  private readonly disks: DiskToWrite[] = [];
  private readonly writer: PointWriter;
  private readonly sourceFolder: string;
  private readonly onCommitted: (manifest: Manifest, source: SourceVm) => void;

  /** `onCommitted` indexes the new point (in the catalog) as soon as the repository holds it.
   * With a `chainKey` every stored block is sealed with it. `auditHead` gives the audit log's
   * head for the manifest. */
  constructor(
    repository: Repository,
    pool: WorkerPool,
    sourceFolder: string,
    onCommitted: (manifest: Manifest, source: SourceVm) => void,
    chainKey: BackupKey | null = null,
    auditHead: () => AuditHead | null = () => null,
  ) {
    this.writer = new PointWriter({ repository, pool, chainKey, auditHead });
    this.sourceFolder = sourceFolder;
    this.onCommitted = onCommitted;
  }

  private async initialize(context: StepContext): Promise<Opened> {
    const source = await readSourceVm(this.sourceFolder);
    // Every disk (and every link of its snapshot chain) opens before the repository is touched,
    // so a disk Lifeboat cannot read stores nothing.
    for (const entry of source.vmx.disks) {
      const path = join(source.folder, entry.fileName);
      const { disk, format, chain } = await openDiskChain(path);
      this.disks.push({ key: entry.key, fileName: entry.fileName, disk, format, chain });
      if (chain.length > 1)
        context.log(`disk ${entry.key} is a snapshot chain, read as the VM sees it: ${chain.map((link) => link.fileName).join(' → ')}`);
      const problem = diskCapacityProblem(disk.capacity);
      if (problem) throw new LifeboatError('invalid-source', `${path}: ${problem}`);
    }
    context.log(`VM ${source.vmx.displayName}: ${this.disks.length} disk(s), ${capacityOf(this.disks)} bytes`);
    await this.writer.findChain(source.vmId, source.vmx.displayName, context);
    return { source, disks: this.disks };
  }

  private async readConfiguration(opened: Opened, context: StepContext): Promise<Opened> {
    await this.writer.start(context);
    context.log(`configuration ${opened.source.vmxFile} (${opened.source.vmxText.length} bytes)`);
    return opened;
  }

  private async transferDisks(opened: Opened, context: StepContext): Promise<Opened> {
    const total = capacityOf(opened.disks);
    let before = 0;
    context.progress(0, total);
    for (const entry of opened.disks) {
      await this.writer.writeDisk(entry, context, (done) => context.progress(before + done, total));
      before += entry.disk.capacity;
    }
    return opened;
  }

  private async commit(opened: Opened, context: StepContext): Promise<void> {
    const { source } = opened;
    const manifest = await this.writer.commit({ fileName: source.vmxFile, text: source.vmxText }, context);
    this.onCommitted(manifest, source);
  }

  async finish(): Promise<void> {
    await this.writer.close();
    await Promise.all(this.disks.map((entry) => entry.disk.close().catch(() => undefined)));
  }

  result(): Record<string, unknown> {
    return this.writer.result();
  }
}
