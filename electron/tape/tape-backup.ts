// Backup to tape: restore points from the repository are copied, stored bytes as they are, to a
// new media set of a pool; the catalog learns where every stored block of every copy lies.
import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Catalog } from '../catalog/catalog.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import type { TapeLibrary } from '../drivers/tape/tape-driver.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { planCopy, type CopyPlan } from './copy-plan.ts';
import { MediaSetWriter, type CopyOnTape } from './media-set-writer.ts';
import { FrameKind, LOCATION_BYTES } from './tape-format.ts';

export type TapeBackupRequest = { points: { vmId: string; pointId: string }[]; pool: string };

/** What initialization found: the points to copy, the free tapes to write and their block size. */
type Checked = { plans: CopyPlan[]; freeTapes: string[]; blockSize: number };

export class TapeBackupWork implements JobWork {
  static readonly plan = Plan.of<TapeBackupWork>()
    .step('initialize', 'Initialization: check the points and pick free tapes', (work, _none, context) => work.initialize(context))
    .step('write-tapes', 'Write the points to tape', (work, checked, context) => work.writeTapes(checked, context))
    .step('record-catalog', 'Record the tapes and block locations in the catalog', (work, writer, context) => work.record(writer, context));
  readonly plan = TapeBackupWork.plan.bind(this);
  private readonly repository: Repository;
  private readonly catalog: Catalog;
  private readonly library: TapeLibrary;
  private readonly request: TapeBackupRequest;
  private readonly jobId: string;
  // Kept for finish() and result(): what was written so far, and by which writer.
  private copies: CopyOnTape[] = [];
  private writer: MediaSetWriter | null = null;
  private readonly mediaSetId = randomUUID();
  private recorded = false;

  constructor(options: { repository: Repository; catalog: Catalog; library: TapeLibrary; request: TapeBackupRequest; jobId: string }) {
    this.repository = options.repository;
    this.catalog = options.catalog;
    this.library = options.library;
    this.request = options.request;
    this.jobId = options.jobId;
  }

  private async initialize(context: StepContext): Promise<Checked> {
    const plans: CopyPlan[] = [];
    for (const { vmId, pointId } of this.request.points) {
      const plan = planCopy(await resolvePoint(this.repository, vmId, pointId));
      plans.push(plan);
      context.log(
        `${plan.manifest.vmName} point ${plan.manifest.sequence}: ${plan.blocks.length} stored blocks, ${plan.storedBytes} bytes`,
      );
    }
    const inventory = await this.library.inventory();
    const known = new Set(this.catalog.tapes.volumes().map((volume) => volume.barcode));
    const free = inventory.cartridges.filter((tape) => tape.location.kind === 'slot' && !known.has(tape.barcode));
    const protectedTapes = free.filter((tape) => tape.writeProtected).map((tape) => tape.barcode);
    const freeTapes = free.filter((tape) => !tape.writeProtected).map((tape) => tape.barcode);
    const capacity = free.find((tape) => !tape.writeProtected)?.capacityBytes ?? 0;
    const needed = plans.reduce((sum, plan) => sum + plan.storedBytes, 0);
    if (protectedTapes.length > 0) context.log(`write-protected, not used: ${protectedTapes.join(', ')}`, 'warning');
    if (freeTapes.length === 0) {
      const why = protectedTapes.length > 0 ? `the free tapes (${protectedTapes.join(', ')}) are write-protected` : 'there is none';
      throw new LifeboatError(
        'unavailable',
        `no free tape to write in ${inventory.name} for pool ${this.request.pool}: ${why}; import blank tapes (\`lifeboat tape import\`)`,
      );
    }
    context.log(
      `${freeTapes.length} free tape(s) online; about ${Math.max(1, Math.ceil(needed / Math.max(1, capacity * 0.95)))} needed for ${needed} bytes`,
    );
    return { plans, freeTapes, blockSize: inventory.blockSize };
  }

  private async writeTapes({ plans, freeTapes, blockSize }: Checked, context: StepContext): Promise<MediaSetWriter> {
    this.catalog.tapes.addMediaSet({ id: this.mediaSetId, pool: this.request.pool, blockSize, state: 'writing' });
    const writer = new MediaSetWriter({
      library: this.library,
      freeTapes,
      set: { id: this.mediaSetId, pool: this.request.pool },
      owner: `tape backup ${this.jobId.slice(0, 8)}`,
      signal: context.signal,
      log: context.log,
    });
    this.writer = writer;
    const total = plans.reduce((sum, plan) => sum + plan.storedBytes, 0);
    let done = 0;
    context.progress(0, total);
    for (const plan of plans) {
      const copy: CopyOnTape = {
        manifest: plan.manifest,
        uniqueBlocks: plan.blocks.length,
        storedBytes: plan.storedBytes,
        maps: plan.maps,
        locations: Buffer.alloc(plan.blocks.length * LOCATION_BYTES),
      };
      this.copies.push(copy);
      const handles = new Map<number, FileHandle>();
      try {
        await writer.beginCopy(copy);
        for (const [id, block] of plan.blocks.entries()) {
          throwIfCancelled(context.signal);
          let handle = handles.get(block.dataFile);
          if (!handle) handles.set(block.dataFile, (handle = await open(plan.dataFiles.get(block.dataFile) as string, 'r')));
          const payload = Buffer.allocUnsafe(block.storedLength);
          const { bytesRead } = await handle.read(payload, 0, block.storedLength, block.offset);
          if (bytesRead !== block.storedLength)
            throw new LifeboatError(
              'corrupt-backup',
              `${plan.manifest.vmName} point ${plan.manifest.sequence}: data file ${block.dataFile} ends early`,
            );
          await writer.writeBlock(
            copy,
            {
              kind: FrameKind.block,
              codec: block.codec,
              uniqueId: id,
              rawLength: block.rawLength,
              storedLength: block.storedLength,
              sha256: block.sha256,
            },
            payload,
          );
          done += block.storedLength;
          context.progress(done, total);
        }
        await writer.endCopy();
      } finally {
        for (const handle of handles.values()) await handle.close();
      }
      context.log(`${plan.manifest.vmName} point ${plan.manifest.sequence} written`);
    }
    await writer.finishTape();
    return writer;
  }

  private async record(writer: MediaSetWriter, context: StepContext): Promise<void> {
    for (const volume of writer.volumes) this.catalog.tapes.recordVolume({ ...volume, mediaSetId: this.mediaSetId });
    for (const copy of this.copies) this.catalog.tapes.saveCopy({ mediaSetId: this.mediaSetId, ...copy });
    this.catalog.tapes.setMediaSetState(this.mediaSetId, 'complete');
    this.recorded = true;
    context.log(`media set ${this.mediaSetId} of pool ${this.request.pool}: ${writer.volumes.map((volume) => volume.barcode).join(', ')}`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (succeeded) return;
    await this.writer?.abandon();
    // An unfinished set is not a backup: its tapes go back to the free ones.
    if (!this.recorded) this.catalog.tapes.removeMediaSet(this.mediaSetId);
  }

  result(): Record<string, unknown> {
    const volumes = this.writer?.volumes ?? [];
    const metadataBytes = this.copies.reduce(
      (sum, copy) => sum + copy.maps.length + copy.locations.length + JSON.stringify(copy.manifest).length,
      0,
    );
    const storedBytes = this.copies.reduce((sum, copy) => sum + copy.storedBytes, 0);
    return {
      mediaSetId: this.mediaSetId,
      pool: this.request.pool,
      points: this.copies.map((copy) => ({ vm: copy.manifest.vmName, point: copy.manifest.sequence, storedBytes: copy.storedBytes })),
      tapes: volumes.map((volume) => ({
        barcode: volume.barcode,
        sequence: volume.sequence,
        bytes: volume.bytes,
        starvedEvents: volume.starvedEvents,
      })),
      catalogMetadataBytes: metadataBytes,
      storedBytes,
    };
  }
}
