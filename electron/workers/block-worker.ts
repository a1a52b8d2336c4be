// Worker thread: hashing, compression, and the whole read-decompress-verify-write loop of a
// restore, so the engine's thread only coordinates.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { LifeboatError, toWireError } from '../errors.ts';
import { compressBlock, decompressBlock, ENCRYPTED_CODEC, type Codec } from '../repository/codec.ts';
import { openBlock, sealBlock, unsealed } from '../repository/block-cipher.ts';
import { ownedCopy } from './pool.ts';
import { isAllZero } from '../disks/zero.ts';
import { restoreStripe, StripeError, writeAt } from './restore-stripe.ts';
import {
  type CompressResult,
  type CopyFileTask,
  type FileHashResult,
  type DecodeBlockResult,
  type DigestResult,
  type WorkerTask,
  type WriteBlocksResult,
  type WriteBlocksTask,
} from './messages.ts';

function writeBlocks(task: WriteBlocksTask): WriteBlocksResult {
  const fds = new Map<string, number>();
  let bytes = 0;
  // decompress, verify, write (source read is the caller's: the blocks came with the task)
  const timings = [0, 0, 0];
  try {
    task.blocks.forEach((block, index) => {
      const fail = (why: string): never => {
        const error = new StripeError('corrupt-backup', why);
        error.blockIndex = index;
        throw error;
      };
      let data: Uint8Array;
      const t0 = performance.now();
      try {
        const plain = unsealed(block.payload, block.codec, block.sha256, task.dataKey);
        data = decompressBlock(plain.payload, plain.codec, block.rawLength);
      } catch (error) {
        return fail((error as Error).message);
      }
      const t1 = performance.now();
      if (data.length !== block.rawLength) fail(`it decompresses to ${data.length} bytes instead of ${block.rawLength}`);
      if (!createHash('sha256').update(data).digest().equals(Buffer.from(block.sha256))) fail('its SHA-256 does not match the catalog');
      const t2 = performance.now();
      for (const target of block.targets) {
        let fd = fds.get(target.path);
        if (fd === undefined) fds.set(target.path, (fd = openSync(target.path, 'r+')));
        writeAt(fd, data, target.position);
        bytes += data.length;
      }
      timings[0] = (timings[0] as number) + (t1 - t0);
      timings[1] = (timings[1] as number) + (t2 - t1);
      timings[2] = (timings[2] as number) + (performance.now() - t2);
    });
    return { bytes, timings };
  } finally {
    for (const fd of fds.values()) closeSync(fd);
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
