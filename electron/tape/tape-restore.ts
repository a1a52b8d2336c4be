// Entire VM restore from tape straight into a local datastore folder. The catalog holds the
// copy's block map, so the configuration is restored without touching a tape, and the disks are
// written while the group's single pass reads each tape once, front to back.
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { LocalVmWriter } from '../restore/local-vm-writer.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { copyDataBytes, DiskRestoreConsumer } from './disk-consumer.ts';
import type { PassCoordinator } from './pass-coordinator.ts';
import type { TapeReport } from './tape-pass.ts';
import { readLocation, UNKNOWN_TAPE } from './tape-format.ts';

export const tapeRestoreSteps = [
  { name: 'initialize', title: 'Initialization: find the tapes in the catalog and build the block map' },
  { name: 'restore-configuration', title: 'Restore the VM configuration (from the catalog, no tape needed)' },
  { name: 'transfer-disks', title: 'Read the tapes once, writing the disks in parallel' },
  { name: 'finalize', title: 'Finalize: sync and publish the VM files' },
] as const;

/** Refuses a copy some of whose blocks lie on tapes the catalog has not seen. */
export function checkCopyComplete(copy: TapeCopy): void {
  for (let id = 0; id < copy.uniqueBlocks; id++) {
    if (readLocation(copy.locations, id).tape === UNKNOWN_TAPE) {
      throw new LifeboatError('not-found', `${copy.manifest.vmName} point ${copy.manifest.sequence} has blocks on a tape of media set ${copy.mediaSetId.slice(0, 8)} that is not in the catalog; catalog the set's other tapes (\`lifeboat tape catalog <barcode>\`)`);
    }
  }
}

export type TapeVmRestoreOptions = { copy: TapeCopy; targetPath: string; jobId: string; pool: WorkerPool; coordinator: PassCoordinator };

export class TapeVmRestore implements LegacyJobWork {
  readonly steps = tapeRestoreSteps;
  private readonly options: TapeVmRestoreOptions;
  private writer: LocalVmWriter | null = null;
  private bytesTotal = 0;
  private bytesWritten = 0;
  private tapes: TapeReport[] = [];

  constructor(options: TapeVmRestoreOptions) {
    this.options = options;
  }

  async run(step: string, context: StepContext): Promise<void> {
    const { copy } = this.options;
    switch (step) {
      case 'initialize': {
        checkCopyComplete(copy);
        this.bytesTotal = copyDataBytes(copy);
        context.log(`${copy.manifest.vmName} point ${copy.manifest.sequence} is in media set ${copy.mediaSetId.slice(0, 8)}: ${copy.uniqueBlocks} stored blocks, ${this.bytesTotal} bytes to write`);
        this.writer = await LocalVmWriter.claim({ target: this.options.targetPath, jobId: this.options.jobId, resuming: null, manifest: copy.manifest, newName: undefined, bytesNeeded: this.bytesTotal, context });
        return;
      }
      case 'restore-configuration':
        return (this.writer as LocalVmWriter).writeConfiguration(context);
      case 'transfer-disks':
        return this.transfer(context);
      case 'finalize':
        return (this.writer as LocalVmWriter).publish(context);
    }
    throw new LifeboatError('internal', `tape restore has no step ${step}`);
  }

  private async transfer(context: StepContext): Promise<void> {
    const { copy } = this.options;
    const writer = this.writer as LocalVmWriter;
    const diskPaths: string[] = [];
    for (const disk of copy.manifest.disks) diskPaths.push(await writer.prepareDisk(disk.key, disk.capacity, true));
    context.progress(0, this.bytesTotal);
    const consumer = new DiskRestoreConsumer({
      jobId: this.options.jobId,
      label: copy.manifest.vmName,
      copy,
      context,
      diskPaths,
      pool: this.options.pool,
      bytesExpected: this.bytesTotal,
      onBytes: (bytes) => {
        this.bytesWritten = bytes;
        context.progress(bytes, this.bytesTotal);
      },
    });
    this.tapes = await this.options.coordinator.joinAndReport(consumer);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (!succeeded) await this.writer?.discard();
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.writer?.vmName ?? this.options.copy.manifest.vmName,
      pointId: this.options.copy.manifest.id,
      mediaSetId: this.options.copy.mediaSetId,
      target: this.writer?.folder.path ?? this.options.targetPath,
      files: this.writer?.published ?? [],
      bytesWritten: this.bytesWritten,
      tapes: this.tapes,
    };
  }
}
