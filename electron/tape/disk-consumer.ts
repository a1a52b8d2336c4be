// A tape pass consumer that writes a copy's blocks straight into the VM's disk files: stored
// blocks are copied into a shared ring (payload-ring.ts) and go in batches to the block workers
// (decompress, check SHA-256, write to every place the block is used). The batches queued or in
// flight are a read-ahead of up to READ_AHEAD_BYTES of stored data: the drive streams on into it
// while the workers catch up, and only when it is full does the pass wait (which the drive model
// counts when it lasts).
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import { LifeboatError } from '../errors.ts';
import type { WriteBlocksResult, WriteBlocksTask } from '../workers/messages.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { diskMapOf } from './copy-plan.ts';
import { ConsumerBase, type ConsumerOptions } from './consumer-base.ts';
import { PayloadRing } from './payload-ring.ts';
import { MAP_ENTRY_BYTES, type Frame } from './tape-format.ts';

const MIB = 1024 * 1024;
/** Stored bytes read from tape and not yet written: at LTO-9's 400 MB/s, over half a second of
 * tape, which covers the workers' hiccups (a busy machine, the page cache writing back). */
const READ_AHEAD_BYTES = 256 * MIB;

/** Raw bytes per batch: enough batches to keep every worker busy with a few queued behind it (so
 * a worker never waits for a round trip), and batches large enough that a round trip (well under
 * a millisecond) is lost in a batch's work (tens of milliseconds). */
export function batchBytesFor(workers: number, readAheadBytes: number): number {
  return Math.min(32 * MIB, Math.max(MIB, Math.floor(readAheadBytes / (workers * 4) / MIB) * MIB));
}

type Place = { path: string; position: number; disk: string };
type Batch = WriteBlocksTask['blocks'];

/** Raw bytes a copy's disks hold (what a restore writes), holes left out. */
export function copyDataBytes(copy: TapeCopy): number {
  let bytes = 0;
  copy.manifest.disks.forEach((disk, diskIndex) => {
    const map = diskMapOf(copy.manifest, copy.maps, diskIndex);
    for (let index = 0; index * MAP_ENTRY_BYTES < map.length; index++) {
      if (map.readUInt32LE(index * MAP_ENTRY_BYTES) !== 0)
        bytes += Math.min(copy.manifest.blockSize, disk.capacity - index * copy.manifest.blockSize);
    }
  });
  return bytes;
}

export type DiskConsumerOptions = ConsumerOptions & {
  /** Staged flat file of each disk, in the manifest's order (sparse, full size). */
  diskPaths: string[];
  pool: WorkerPool;
  /** The copy's data bytes (copyDataBytes), which the restore has already counted. */
  bytesExpected: number;
  /** Stored bytes the pass may read ahead of the writers (default READ_AHEAD_BYTES). */
  readAheadBytes?: number;
};

export class DiskRestoreConsumer extends ConsumerBase {
  bytesWritten = 0;
  readonly bytesExpected: number;
  private readonly options: DiskConsumerOptions;
  private readonly places = new Map<number, Place[]>();
  private batch: Batch = [];
  private batchPlaces: Place[][] = [];
  private batchBytes = 0;
  private batchStored = 0;
  /** Stored bytes in the batch being filled and in the batches queued or in flight. */
  private readAhead = 0;
  private readonly readAheadLimit: number;
  private readonly batchLimit: number;
  private readonly inFlight = new Set<Promise<void>>();
  /** Where the stored blocks read ahead are kept: the read-ahead, and a few blocks of room for
   * the one being added and for the ring's unused tail. */
  private readonly ring: PayloadRing;
  /** Settles when the job is cancelled (a pass waiting for room stops waiting). */
  private readonly cancelled: Promise<void>;

  constructor(options: DiskConsumerOptions) {
    super(options);
    this.options = options;
    this.bytesExpected = options.bytesExpected;
    this.readAheadLimit = options.readAheadBytes ?? READ_AHEAD_BYTES;
    this.cancelled = new Promise((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.batchLimit = batchBytesFor(options.pool.size, this.readAheadLimit);
    const { manifest, maps } = options.copy;
    this.ring = new PayloadRing(this.readAheadLimit + 4 * manifest.blockSize);
    manifest.disks.forEach((disk, diskIndex) => {
      const map = diskMapOf(manifest, maps, diskIndex);
      const path = options.diskPaths[diskIndex] as string;
      for (let index = 0; index * MAP_ENTRY_BYTES < map.length; index++) {
        const entry = map.readUInt32LE(index * MAP_ENTRY_BYTES);
        if (entry === 0) continue;
        let list = this.places.get(entry - 1);
        if (!list) this.places.set(entry - 1, (list = []));
        list.push({ path, position: index * manifest.blockSize, disk: disk.key });
      }
    });
  }

  async deliver(uniqueId: number, frame: Frame, payload: Uint8Array): Promise<void> {
    const places = this.places.get(uniqueId);
    if (!places) throw new LifeboatError('corrupt-backup', `${this.label}: tape block ${uniqueId} is used by no disk of the copy`);
    let copy = this.ring.copyIn(payload);
    // No room before the batches in flight are written (the ring's room comes back in order).
    for (let guard = 0; !copy; guard++) {
      this.dispatch();
      if (this.failure || this.signal.aborted) return;
      if (this.inFlight.size === 0 || guard >= 1_000_000)
        throw new LifeboatError('internal', `${this.label}: no room in the read-ahead for tape block ${uniqueId}`);
      await Promise.race([...this.inFlight, this.cancelled]);
      copy = this.ring.copyIn(payload);
    }
    this.batch.push({
      payload: copy,
      codec: frame.codec,
      rawLength: frame.rawLength,
      sha256: frame.sha256,
      targets: places.map(({ path, position }) => ({ path, position })),
    });
    this.batchPlaces.push(places);
    this.batchBytes += frame.rawLength * places.length;
    this.batchStored += copy.length;
    this.readAhead += copy.length;
    if (this.batchBytes >= this.batchLimit) this.dispatch();
    // Back-pressure: the tape waits only when the read-ahead is full, and not past a cancel.
    for (let guard = 0; this.readAhead >= this.readAheadLimit && this.inFlight.size > 0 && guard < 1_000_000; guard++) {
      if (this.failure || this.signal.aborted) return;
      await Promise.race([...this.inFlight, this.cancelled]);
    }
  }

  /** Queues the batch being filled on the pool (which hands it to the next free worker). */
  private dispatch(): void {
    if (this.batch.length === 0) return;
    const blocks = this.batch;
    const places = this.batchPlaces;
    const stored = this.batchStored;
    this.batch = [];
    this.batchPlaces = [];
    this.batchBytes = 0;
    this.batchStored = 0;
    const region = this.ring.seal();
    if (this.failure || this.signal.aborted) {
      this.readAhead -= stored;
      this.ring.release(region);
      return;
    }
    // The payloads are views of the shared ring: the worker reads them where they are.
    const task: Promise<void> = this.options.pool.run<WriteBlocksResult>({ type: 'write-blocks', blocks, dataKey: null }).then(
      (result) => {
        this.busy('decompress', (result.timings[0] ?? 0) / 1000);
        this.busy('verify', (result.timings[1] ?? 0) / 1000);
        this.busy('target write', (result.timings[2] ?? 0) / 1000);
        if (result.corrupt) {
          this.failure ??= this.corruptBlock(places[result.corrupt.blockIndex]?.[0], result.corrupt.message);
          return;
        }
        this.bytesWritten += result.bytes;
        this.onBytes(this.bytesWritten);
      },
      (error: unknown) => {
        this.failure ??= this.explain(error as Error);
      },
    );
    const tracked = task.finally(() => {
      this.readAhead -= stored;
      this.ring.release(region);
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  private corruptBlock(place: Place | undefined, why: string): LifeboatError {
    const { manifest } = this.copy;
    return new LifeboatError(
      'corrupt-backup',
      `VM ${manifest.vmName}, point ${manifest.sequence}, disk ${place?.disk ?? '?'}, offset ${place?.position ?? '?'}: corrupt block from tape, nothing written for it (${why})`,
    );
  }

  private explain(error: Error): Error {
    if (isErrno(error, 'ENOSPC')) return new LifeboatError('target-full', `the target ran out of space while restoring ${this.label}`);
    return error;
  }

  async drain(): Promise<void> {
    this.dispatch();
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    if (this.bytesWritten !== this.bytesExpected) {
      throw new LifeboatError(
        'corrupt-backup',
        `${this.label}: the tapes gave ${this.bytesWritten} of the ${this.bytesExpected} bytes the disks need`,
      );
    }
  }
}

function isErrno(error: Error, code: string): boolean {
  return (error as { code?: unknown }).code === code || error.message.includes(code);
}
