// Entire VM restore from tape straight into a local datastore folder. The catalog holds the
// copy's block map, so the configuration is restored without touching a tape, and the disks are
// written while the group's single pass reads each tape once, front to back.
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { LocalVmWriter } from '../restore/local-vm-writer.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { copyDataBytes, DiskRestoreConsumer } from './disk-consumer.ts';
import type { PassCoordinator } from './pass-coordinator.ts';
import type { TapeReport } from './tape-pass.ts';
import { readLocation, UNKNOWN_TAPE } from './tape-format.ts';

/** Refuses a copy some of whose blocks lie on tapes the catalog has not seen. */
export function checkCopyComplete(copy: TapeCopy): void {
  for (let id = 0; id < copy.uniqueBlocks; id++) {
    if (readLocation(copy.locations, id).tape === UNKNOWN_TAPE) {
      throw new LifeboatError(
        'not-found',
        `${copy.manifest.vmName} point ${copy.manifest.sequence} has blocks on a tape of media set ${copy.mediaSetId.slice(0, 8)} that is not in the catalog; catalog the set's other tapes (\`lifeboat tape catalog <barcode>\`)`,
      );
    }
  }
}

export type TapeVmRestoreOptions = { copy: TapeCopy; targetPath: string; jobId: string; pool: WorkerPool; coordinator: PassCoordinator };

/** The target claimed by initialization, and how many bytes its disks take. */
type Claimed = { writer: LocalVmWriter; bytesTotal: number };

export class TapeVmRestore implements JobWork {
  static readonly plan = Plan.of<TapeVmRestore>()
    .step('initialize', 'Initialization: find the tapes in the catalog and build the block map', (work, _none, context) =>
      work.claim(context),
    )
    .step('restore-configuration', 'Restore the VM configuration (from the catalog, no tape needed)', (work, claimed, context) =>
      work.configure(claimed, context),
    )
    .step('transfer-disks', 'Read the tapes once, writing the disks in parallel', (work, claimed, context) =>
      work.transfer(claimed, context),
    )
    .step('finalize', 'Finalize: sync and publish the VM files', (_work, writer, context) => writer.publish(context));
  readonly plan = TapeVmRestore.plan.bind(this);
  private readonly options: TapeVmRestoreOptions;
  // Kept for finish() and result(): the claimed target, and what the transfer did.
  private writer: LocalVmWriter | null = null;
  private bytesWritten = 0;
  private tapes: TapeReport[] = [];

  constructor(options: TapeVmRestoreOptions) {
    this.options = options;
  }

  private async claim(context: StepContext): Promise<Claimed> {
    const { copy } = this.options;
    checkCopyComplete(copy);
    const bytesTotal = copyDataBytes(copy);
    context.log(
      `${copy.manifest.vmName} point ${copy.manifest.sequence} is in media set ${copy.mediaSetId.slice(0, 8)}: ${copy.uniqueBlocks} stored blocks, ${bytesTotal} bytes to write`,
    );
    this.writer = await LocalVmWriter.claim({
      target: this.options.targetPath,
      jobId: this.options.jobId,
      resuming: null,
      manifest: copy.manifest,
      newName: undefined,
      bytesNeeded: bytesTotal,
      context,
    });
    return { writer: this.writer, bytesTotal };
  }

  private async configure(claimed: Claimed, context: StepContext): Promise<Claimed> {
    await claimed.writer.writeConfiguration(context);
    return claimed;
  }

  private async transfer({ writer, bytesTotal }: Claimed, context: StepContext): Promise<LocalVmWriter> {
    const { copy } = this.options;
    const diskPaths: string[] = [];
    for (const disk of copy.manifest.disks) diskPaths.push(await writer.prepareDisk(disk.key, disk.capacity, true));
    context.progress(0, bytesTotal);
    const consumer = new DiskRestoreConsumer({
      jobId: this.options.jobId,
      label: copy.manifest.vmName,
      copy,
      context,
      diskPaths,
      pool: this.options.pool,
      bytesExpected: bytesTotal,
      onBytes: (bytes) => {
        this.bytesWritten = bytes;
        context.progress(bytes, bytesTotal);
      },
    });
    this.tapes = await this.options.coordinator.joinAndReport(consumer);
    return writer;
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
