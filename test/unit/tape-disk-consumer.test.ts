// The tape restore's write side: the read-ahead between the drive and the block workers stays
// within its bound when the writers stall, a cancel frees the pass at once, a corrupt block in a
// batch fails the job naming that block, and blocks written in runs land where they belong.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TapeCopy } from '../../electron/catalog/tape-catalog.ts';
import { LifeboatError } from '../../electron/errors.ts';
import type { StepContext } from '../../electron/jobs/plan.ts';
import { Codec, compressBlock } from '../../electron/repository/codec.ts';
import { DiskRestoreConsumer } from '../../electron/tape/disk-consumer.ts';
import { FrameKind, MAP_ENTRY_BYTES, type Frame } from '../../electron/tape/tape-format.ts';
import type { WorkerTask, WriteBlocksResult, WriteBlocksTask } from '../../electron/workers/messages.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';
import { writeBlocks } from '../../electron/workers/write-blocks.ts';

const BLOCK = 64 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'lifeboat-tape-consumer-'));
after(() => rm(dir, { recursive: true, force: true }));

/** A copy of one disk of `blocks` blocks, block i stored as unique block i. */
function copyOf(blocks: number): TapeCopy {
  const maps = Buffer.alloc(blocks * MAP_ENTRY_BYTES);
  for (let i = 0; i < blocks; i++) maps.writeUInt32LE(i + 1, i * MAP_ENTRY_BYTES);
  const manifest = { vmName: 'alpha', sequence: 3, blockSize: BLOCK, disks: [{ key: 'scsi0:0', capacity: blocks * BLOCK }] };
  return {
    id: 1,
    mediaSetId: 'set',
    manifest: manifest as unknown as TapeCopy['manifest'],
    uniqueBlocks: blocks,
    storedBytes: 0,
    maps,
    locations: Buffer.alloc(0),
  };
}

function contextOf(signal: AbortSignal): StepContext {
  return {
    signal,
    resources: { record: () => 0, update: () => undefined },
    progress: () => undefined,
    log: () => undefined,
    waiting: () => undefined,
    busy: () => undefined,
  };
}

function frameOf(uniqueId: number, data: Uint8Array, payload: Uint8Array, codec: number): Frame {
  const sha256 = createHash('sha256').update(data).digest();
  return { kind: FrameKind.block, codec, uniqueId, rawLength: data.length, storedLength: payload.length, sha256 };
}

/** Block workers that write nothing until told: each task waits for `finish()`. */
class StalledPool {
  readonly size = 1;
  readonly tasks: { task: WriteBlocksTask; finish(): void }[] = [];
  run<T>(task: WorkerTask): Promise<T> {
    return new Promise<T>((resolve) => {
      const blocks = (task as WriteBlocksTask).blocks;
      const bytes = blocks.reduce((sum, block) => sum + block.rawLength, 0);
      const result: WriteBlocksResult = { bytes, timings: [0, 0, 0], corrupt: null };
      this.tasks.push({ task: task as WriteBlocksTask, finish: () => resolve(result as T) });
    });
  }
}

async function settlesSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

function consumerWith(pool: StalledPool | WorkerPool, blocks: number, signal: AbortSignal, path: string): DiskRestoreConsumer {
  return new DiskRestoreConsumer({
    jobId: 'job',
    label: 'alpha',
    copy: copyOf(blocks),
    context: contextOf(signal),
    onBytes: () => undefined,
    diskPaths: [path],
    pool: pool as WorkerPool,
    bytesExpected: blocks * BLOCK,
    readAheadBytes: 1024 * 1024,
  });
}

test('with the writers stalled, the tape waits once the read-ahead is full, and goes on when a batch is written', async () => {
  const pool = new StalledPool();
  const consumer = consumerWith(pool, 64, new AbortController().signal, join(dir, 'unused'));
  const data = new Uint8Array(BLOCK);
  // 1 MiB of read-ahead, batches of 1 MiB: the first 15 blocks are taken at once.
  for (let id = 0; id < 15; id++) assert.ok(await settlesSoon(consumer.deliver(id, frameOf(id, data, data, Codec.none), data)));
  const sixteenth = consumer.deliver(15, frameOf(15, data, data, Codec.none), data);
  assert.equal(await settlesSoon(sixteenth), false, 'the 16th block fills the read-ahead: the tape waits');
  assert.equal(pool.tasks.length, 1, 'one batch went to the workers');
  pool.tasks[0]?.finish();
  assert.ok(await settlesSoon(sixteenth), 'a written batch makes room');
});

test('a cancel while the read-ahead is full frees the tape at once and sends no more batches', async () => {
  const pool = new StalledPool();
  const controller = new AbortController();
  const consumer = consumerWith(pool, 64, controller.signal, join(dir, 'unused'));
  const data = new Uint8Array(BLOCK);
  for (let id = 0; id < 15; id++) await consumer.deliver(id, frameOf(id, data, data, Codec.none), data);
  const waiting = consumer.deliver(15, frameOf(15, data, data, Codec.none), data);
  assert.equal(await settlesSoon(waiting), false);
  controller.abort();
  assert.ok(await settlesSoon(waiting), 'the pass is not held by the stalled batch');
  for (let id = 16; id < 48; id++) assert.ok(await settlesSoon(consumer.deliver(id, frameOf(id, data, data, Codec.none), data)));
  assert.equal(pool.tasks.length, 1, 'nothing more went to the workers after the cancel');
  pool.tasks[0]?.finish();
});

test('a corrupt block in a batch fails the restore naming its disk and offset; nothing is written for it', async () => {
  const pool = new WorkerPool(1);
  after(() => pool.close());
  const path = join(dir, 'corrupt-flat.vmdk');
  writeFileSync(path, Buffer.alloc(8 * BLOCK));
  const consumer = consumerWith(pool, 8, new AbortController().signal, path);
  for (let id = 0; id < 8; id++) {
    const data = randomBytes(BLOCK);
    const { codec, payload } = compressBlock(data, Codec.zstd);
    const frame = frameOf(id, data, payload, codec);
    if (id === 5) frame.sha256 = createHash('sha256').update('something else').digest();
    await consumer.deliver(id, frame, Uint8Array.prototype.slice.call(payload));
  }
  await assert.rejects(consumer.drain(), (error: unknown) => {
    assert.ok(error instanceof LifeboatError);
    assert.equal(error.code, 'corrupt-backup');
    assert.match(error.message, new RegExp(`VM alpha, point 3, disk scsi0:0, offset ${5 * BLOCK}: corrupt block from tape`));
    assert.match(error.message, /SHA-256 does not match/);
    return true;
  });
  assert.ok(
    readFileSync(path)
      .subarray(5 * BLOCK, 6 * BLOCK)
      .every((byte) => byte === 0),
    'nothing written for the corrupt block',
  );
});

test('blocks written in runs land at their places, in every file that uses them', () => {
  const first = join(dir, 'runs-a');
  const second = join(dir, 'runs-b');
  writeFileSync(first, Buffer.alloc(12 * BLOCK));
  writeFileSync(second, Buffer.alloc(12 * BLOCK));
  const expected = [Buffer.alloc(12 * BLOCK), Buffer.alloc(12 * BLOCK)];
  // Adjacent, adjacent, a gap, a block used twice (in both files), then back before the gap.
  const places = [
    [[0, 0]],
    [[0, 1]],
    [[0, 2]],
    [[0, 7]],
    [
      [0, 8],
      [1, 3],
    ],
    [[1, 4]],
    [[0, 4]],
  ];
  const blocks = places.map((targets) => {
    const data = randomBytes(BLOCK);
    for (const [file, block] of targets) data.copy(expected[file as number] as Buffer, (block as number) * BLOCK);
    const { codec, payload } = compressBlock(data, Codec.zstd);
    return {
      payload,
      codec,
      rawLength: BLOCK,
      sha256: createHash('sha256').update(data).digest(),
      targets: targets.map(([file, block]) => ({ path: file === 0 ? first : second, position: (block as number) * BLOCK })),
    };
  });
  const result = writeBlocks({ type: 'write-blocks', dataKey: null, blocks });
  assert.equal(result.corrupt, null);
  assert.equal(result.bytes, 8 * BLOCK);
  assert.ok(readFileSync(first).equals(expected[0] as Buffer));
  assert.ok(readFileSync(second).equals(expected[1] as Buffer));
});
