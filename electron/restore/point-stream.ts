// A point's disk in order, for a reader that takes it whole and in order (the NBD upload): runs of
// blocks are read, decompressed and SHA-256-checked by the block workers straight into a ring of
// shared memory, handed on as views, and their slot is reused once the reader says it is done
// with them. Nothing is allocated per block and the engine's thread reads no file: a new buffer
// per block (read, then decoded) cost the engine's thread and V8's helper threads a full garbage
// collection every few dozen MiB, close to half of the engine's CPU time in an NBD restore.
import type { DiskChunk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import type { ResolvedDisk, ResolvedPoint } from '../repository/chain.ts';
import { STRIPE_RUN, type DecodeRunResult } from '../workers/messages.ts';
import { WorkerTaskError, type WorkerPool } from '../workers/pool.ts';

type Decoding = { slot: number; first: number; out: Uint8Array; result: Promise<DecodeRunResult> };

/** Ring slots (a run of STRIPE_RUN blocks each, 8 MiB at 1 MiB blocks): per block worker the run
 * it decodes and the one it takes next, and two with the reader (one being sent, one queued). */
const slotsFor = (workers: number): number => 2 * workers + 2;

export async function* decodedDisk(pool: WorkerPool, point: ResolvedPoint, disk: ResolvedDisk): AsyncGenerator<DiskChunk> {
  const { blockSize } = point;
  const runBytes = STRIPE_RUN * blockSize;
  const slots = slotsFor(pool.size);
  const ring = new SharedArrayBuffer(slots * runBytes);
  const free = Array.from({ length: slots }, (_, slot) => slot);
  const runs = Math.ceil(disk.blockCount / STRIPE_RUN);
  const decoding: Decoding[] = [];
  const dataFiles = [...point.dataFiles];
  let nextRun = 0;
  let wake: (() => void) | null = null;

  const startRuns = (): void => {
    while (nextRun < runs && free.length > 0) {
      const slot = free.shift() as number;
      const first = nextRun++ * STRIPE_RUN;
      const end = Math.min(disk.blockCount, first + STRIPE_RUN);
      const out = new Uint8Array(ring, slot * runBytes, Math.min(disk.capacity, end * blockSize) - first * blockSize);
      const result = pool.run<DecodeRunResult>({
        type: 'decode-run',
        map: disk.map,
        blockSize,
        capacity: disk.capacity,
        dataFiles,
        dataKey: point.dataKey,
        first,
        end,
        out,
      });
      // Awaited in order below; one that fails after the reader stopped is of no one's concern.
      result.catch(() => undefined);
      decoding.push({ slot, first, out, result });
    }
  };

  const giveBack = (slot: number): void => {
    free.push(slot);
    startRuns();
    wake?.();
    wake = null;
  };

  for (let run = 0; run < runs; run++) {
    startRuns();
    // Every slot is with the reader: wait until it gives one back.
    while (decoding.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    const head = decoding.shift() as Decoding;
    try {
      await head.result;
    } catch (error) {
      throw corruptAt(error, point, disk, head.first);
    }
    let given = false;
    yield {
      bytes: head.out,
      release: () => {
        if (given) return;
        given = true;
        giveBack(head.slot);
      },
    };
  }
}

function corruptAt(error: unknown, point: ResolvedPoint, disk: ResolvedDisk, first: number): Error {
  if (!(error instanceof WorkerTaskError) || error.blockIndex === undefined) return error as Error;
  const index = error.blockIndex >= 0 ? error.blockIndex : first;
  return new LifeboatError(
    'corrupt-backup',
    `${point.point.vmName} point ${point.point.sequence} disk ${disk.key}, offset ${index * point.blockSize}: corrupt block (${error.message})`,
  );
}
