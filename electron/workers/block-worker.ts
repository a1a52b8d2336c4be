// Worker thread: hashing, compression, and the whole read-decompress-verify-write loop of a
// restore, so the engine's thread only coordinates.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { LifeboatError, toWireError } from '../errors.ts';
import { BlockKind, RECORD_BYTES, readRecord } from '../repository/block-map.ts';
import { compressBlock, decompressBlock, ENCRYPTED_CODEC, type Codec } from '../repository/codec.ts';
import { openBlock, sealBlock, unsealed } from '../repository/block-cipher.ts';
import { ownedCopy } from './pool.ts';
import { isAllZero } from '../disks/zero.ts';
import { writeBlocks } from './write-blocks.ts';
import {
  STAGES,
  stripeOf,
  type CompressResult,
  type CopyFileTask,
  type FileHashResult,
  type DecodeBlockResult,
  type DigestResult,
  type RestoreStripeResult,
  type RestoreStripeTask,
  type WorkerTask,
} from './messages.ts';

function readFully(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new LifeboatError('corrupt-backup', `data file ends before byte ${position + length}`);
    done += n;
  }
  return buffer;
}

class StripeError extends LifeboatError {
  blockIndex = -1;
}

function writeAt(fd: number, data: Uint8Array, position: number): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written, position + written);
}

function restoreStripe(task: RestoreStripeTask): RestoreStripeResult {
  const fds = new Map<number, number>();
  let target: number | null = null;
  let blocks = 0;
  let bytes = 0;
  let unchangedBlocks = 0;
  let done = 0;
  try {
    for (const [sequence, path] of task.dataFiles) fds.set(sequence, openSync(path, 'r'));
    if (task.targetPath) target = openSync(task.targetPath, 'r+');
    const blockCount = task.map.length / RECORD_BYTES;
    const start = task.watermarks ? Atomics.load(task.watermarks, task.slot) : 0;
    for (let index = start; index < blockCount; index++) {
      if (stripeOf(index, task.slots) !== task.slot) continue;
      if (task.watermarks) Atomics.store(task.watermarks, task.slot, index);
      if (Atomics.load(task.control, 0) !== 0) throw new LifeboatError('cancelled', 'stopped');
      const record = readRecord(task.map, index * RECORD_BYTES);
      const expectedLength = Math.min(task.blockSize, task.capacity - index * task.blockSize);
      const position = index * task.blockSize;
      const fail = (why: string): never => {
        const error = new StripeError('corrupt-backup', why);
        error.blockIndex = index;
        throw error;
      };
      if (task.rollback && target !== null) {
        // Quick rollback: a block that already holds the point's content is left alone.
        const current = readFully(target, expectedLength, position);
        const same =
          record.kind === BlockKind.data ? createHash('sha256').update(current).digest().equals(record.sha256) : isAllZero(current);
        done += expectedLength;
        task.progress[task.slot] = done;
        if (same) {
          unchangedBlocks++;
          continue;
        }
        if (task.compareOnly) continue;
        if (record.kind !== BlockKind.data) {
          writeAt(target, new Uint8Array(expectedLength), position);
          blocks++;
          bytes += expectedLength;
          continue;
        }
      }
      if (record.kind !== BlockKind.data) continue;
      const fd = fds.get(record.dataFile);
      if (fd === undefined) fail(`its data file (point ${record.dataFile}) is not in the chain`);
      if (record.rawLength !== expectedLength) fail(`recorded length ${record.rawLength} should be ${expectedLength}`);
      let data: Uint8Array;
      const t0 = performance.now();
      const stored = readFully(fd as number, record.storedLength, record.offset);
      const t1 = performance.now();
      try {
        const plain = unsealed(stored, record.codec, record.sha256, task.dataKey);
        data = decompressBlock(plain.payload, plain.codec, record.rawLength);
      } catch (error) {
        return fail((error as Error).message);
      }
      const t2 = performance.now();
      if (data.length !== record.rawLength) fail(`it decompresses to ${data.length} bytes instead of ${record.rawLength}`);
      if (!createHash('sha256').update(data).digest().equals(record.sha256)) fail('its SHA-256 does not match the block map');
      const t3 = performance.now();
      if (target !== null) writeAt(target, data, position);
      if (task.timings) {
        const at = task.slot * STAGES.length;
        task.timings[at] = (task.timings[at] as number) + (t1 - t0);
        task.timings[at + 1] = (task.timings[at + 1] as number) + (t2 - t1);
        task.timings[at + 2] = (task.timings[at + 2] as number) + (t3 - t2);
        task.timings[at + 3] = (task.timings[at + 3] as number) + (performance.now() - t3);
      }
      blocks++;
      bytes += data.length;
      if (!task.rollback) task.progress[task.slot] = bytes;
    }
    if (task.watermarks) Atomics.store(task.watermarks, task.slot, blockCount);
    return { blocks, bytes, unchangedBlocks };
  } catch (error) {
    Atomics.compareExchange(task.control, 0, 0, 2);
    throw error;
  } finally {
    for (const fd of fds.values()) closeSync(fd);
    if (target !== null) closeSync(target);
  }
}

const COPY_CHUNK = 4 * 1024 * 1024;

/** SHA-256 of a whole file, read in chunks; `each` sees every chunk (a copy writes it on). */
function hashFile(fd: number, control: Int32Array, each?: (chunk: Buffer, position: number) => void): { bytes: number; sha256: string } {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(COPY_CHUNK);
  let position = 0;
  for (;;) {
    if (Atomics.load(control, 0) !== 0) throw new LifeboatError('cancelled', 'stopped');
    const n = readSync(fd, buffer, 0, COPY_CHUNK, position);
    if (n === 0) return { bytes: position, sha256: hash.digest('hex') };
    const chunk = buffer.subarray(0, n);
    hash.update(chunk);
    each?.(chunk, position);
    position += n;
  }
}

function copyFile(task: CopyFileTask): FileHashResult {
  const source = openSync(task.source, 'r');
  const targets: number[] = [];
  try {
    for (const path of task.targets) targets.push(openSync(path, 'wx', 0o600));
    const copied = hashFile(source, task.control, (chunk, position) => {
      for (const target of targets) writeAt(target, chunk, position);
      task.progress[0] = (task.progress[0] as number) + chunk.length * targets.length;
    });
    for (const target of targets) fsyncSync(target);
    return copied;
  } finally {
    closeSync(source);
    for (const target of targets) closeSync(target);
  }
}

function hashPath(path: string, control: Int32Array): FileHashResult {
  const fd = openSync(path, 'r');
  try {
    return hashFile(fd, control);
  } finally {
    closeSync(fd);
  }
}

function handle(task: WorkerTask): { result: unknown; transfer: ArrayBuffer[] } {
  switch (task.type) {
    case 'digest': {
      const result: DigestResult = { sha256: createHash('sha256').update(task.data).digest(), zero: isAllZero(task.data), data: task.data };
      return { result, transfer: [task.data.buffer as ArrayBuffer] };
    }
    case 'compress': {
      const compressed = compressBlock(task.data, task.codec as Codec);
      const result: CompressResult = task.seal
        ? { codec: compressed.codec | ENCRYPTED_CODEC, payload: sealBlock(compressed.payload, task.seal.key, task.seal.sha256) }
        : compressed;
      return { result, transfer: result.payload.buffer === task.data.buffer ? [task.data.buffer as ArrayBuffer] : [] };
    }
    case 'restore-stripe':
      return { result: restoreStripe(task), transfer: [] };
    case 'write-blocks':
      return { result: writeBlocks(task), transfer: [] };
    case 'copy-file':
      return { result: copyFile(task), transfer: [] };
    case 'hash-file':
      return { result: hashPath(task.path, task.control), transfer: [] };
    case 'decode-block': {
      const data = ownedCopy(openBlock(task.payload, task.codec, task.rawLength, task.sha256, task.dataKey));
      const result: DecodeBlockResult = { data };
      return { result, transfer: [data.buffer as ArrayBuffer] };
    }
  }
}

parentPort?.on('message', (message: { id: number; task: WorkerTask }) => {
  try {
    const { result, transfer } = handle(message.task);
    parentPort?.postMessage({ id: message.id, ok: true, result }, transfer);
  } catch (error) {
    const wire = toWireError(error);
    const blockIndex = error instanceof StripeError ? error.blockIndex : undefined;
    parentPort?.postMessage({ id: message.id, ok: false, error: { ...wire, blockIndex } });
  }
});
