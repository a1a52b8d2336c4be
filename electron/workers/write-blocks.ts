// Worker side of a restore whose stored blocks were read elsewhere (tape): each block is
// decompressed and its SHA-256 checked, then written to every place it is used. Blocks that land
// next to each other in the same file are written together (one writev per run), so a batch
// read front to back from tape costs a few large writes, not one syscall per block.
import { createHash } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { writeGathered } from './gathered-write.ts';
import { decompressBlock } from '../repository/codec.ts';
import { unsealed } from '../repository/block-cipher.ts';
import type { WriteBlocksResult, WriteBlocksTask } from './messages.ts';

/** A run is written once it holds this much (bounds what a batch keeps before writing). */
const RUN_BYTES = 8 * 1024 * 1024;
type Run = { fd: number; position: number; end: number; parts: Uint8Array[] };

export function writeBlocks(task: WriteBlocksTask): WriteBlocksResult {
  const fds = new Map<string, number>();
  const runs = new Map<string, Run>();
  let bytes = 0;
  // decompress, verify, write (source read is the caller's: the blocks came with the task)
  const timings = [0, 0, 0];
  const flush = (path: string): void => {
    const run = runs.get(path);
    if (!run) return;
    runs.delete(path);
    const t0 = performance.now();
    writeGathered(run.fd, run.parts, run.position);
    timings[2] = (timings[2] as number) + (performance.now() - t0);
  };
  try {
    for (const [index, block] of task.blocks.entries()) {
      const t0 = performance.now();
      let data: Uint8Array;
      try {
        const plain = unsealed(block.payload, block.codec, block.sha256, task.dataKey);
        data = decompressBlock(plain.payload, plain.codec, block.rawLength);
      } catch (error) {
        return { bytes, timings, corrupt: { blockIndex: index, message: (error as Error).message } };
      }
      const t1 = performance.now();
      if (data.length !== block.rawLength) {
        return {
          bytes,
          timings,
          corrupt: { blockIndex: index, message: `it decompresses to ${data.length} bytes instead of ${block.rawLength}` },
        };
      }
      if (!createHash('sha256').update(data).digest().equals(block.sha256)) {
        return { bytes, timings, corrupt: { blockIndex: index, message: 'its SHA-256 does not match the catalog' } };
      }
      timings[0] = (timings[0] as number) + (t1 - t0);
      timings[1] = (timings[1] as number) + (performance.now() - t1);
      for (const target of block.targets) {
        let fd = fds.get(target.path);
        if (fd === undefined) fds.set(target.path, (fd = openSync(target.path, 'r+')));
        const run = runs.get(target.path);
        if (run && run.end === target.position && run.end - run.position < RUN_BYTES) {
          run.parts.push(data);
          run.end += data.length;
        } else {
          flush(target.path);
          runs.set(target.path, { fd, position: target.position, end: target.position + data.length, parts: [data] });
        }
        bytes += data.length;
      }
    }
    for (const path of [...runs.keys()]) flush(path);
    return { bytes, timings, corrupt: null };
  } finally {
    for (const fd of fds.values()) closeSync(fd);
  }
}
