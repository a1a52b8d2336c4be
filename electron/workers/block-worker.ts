// Worker thread: hashing, compression, and the whole read-decompress-verify-write loop of a
// restore, so the engine's thread only coordinates. Each kind of task lives in its own module;
// this file dispatches.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { LifeboatError, toWireError } from '../errors.ts';
import { decodeBlockTask } from './decode-block.ts';
import { compressBlocks, packBlocks, scanBlocks } from './backup-blocks.ts';
import { decodeRun, restoreStripe, StripeError, writeAt } from './restore-stripe.ts';
import { writeBlocks } from './write-blocks.ts';
import { LEAVE, type CopyFileTask, type FileHashResult, type WorkerTask } from './messages.ts';

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
    case 'scan-blocks':
      return scanBlocks(task);
    case 'compress-blocks':
      return compressBlocks(task);
    case 'pack-blocks':
      return packBlocks(task);
    case 'restore-stripe':
      return { result: restoreStripe(task), transfer: [] };
    case 'decode-run':
      return { result: decodeRun(task), transfer: [] };
    case 'write-blocks':
      return { result: writeBlocks(task), transfer: [] };
    case 'copy-file':
      return { result: copyFile(task), transfer: [] };
    case 'hash-file':
      return { result: hashPath(task.path, task.control), transfer: [] };
    case 'decode-block': {
      const result = decodeBlockTask(task);
      return { result, transfer: [result.data.buffer as ArrayBuffer] };
    }
  }
}

parentPort?.on('message', (message: { id: number; task: WorkerTask } | typeof LEAVE) => {
  if (message === LEAVE) {
    parentPort?.close();
    return;
  }
  try {
    const { result, transfer } = handle(message.task);
    parentPort?.postMessage({ id: message.id, ok: true, result }, transfer);
  } catch (error) {
    const wire = toWireError(error);
    const blockIndex = error instanceof StripeError ? error.blockIndex : undefined;
    parentPort?.postMessage({ id: message.id, ok: false, error: { ...wire, blockIndex } });
  }
});
