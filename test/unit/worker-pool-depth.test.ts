// Block workers with a second task posted behind the one they run: every task still settles
// with its own result, a failing task fails alone, and idle workers still leave on close.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Codec, compressBlock } from '../../electron/repository/codec.ts';
import type { DecodeBlockResult, DecodeBlockTask } from '../../electron/workers/messages.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';

function decodeTask(data: Uint8Array, sha256 = createHash('sha256').update(data).digest()): DecodeBlockTask {
  const { codec, payload } = compressBlock(data, Codec.zstd);
  return { type: 'decode-block', payload: Uint8Array.prototype.slice.call(payload), codec, rawLength: data.length, sha256, dataKey: null };
}

test('tasks queued past the workers each get their own result; a corrupt block fails alone', async () => {
  const pool = new WorkerPool(1);
  try {
    const blocks = Array.from({ length: 7 }, () => randomBytes(256 * 1024));
    const runs = blocks.map((data, index) =>
      pool.run<DecodeBlockResult>(index === 3 ? decodeTask(data, createHash('sha256').update('other').digest()) : decodeTask(data)),
    );
    const settled = await Promise.allSettled(runs);
    settled.forEach((outcome, index) => {
      if (index === 3) {
        assert.equal(outcome.status, 'rejected');
        assert.equal((outcome as PromiseRejectedResult).reason.code, 'corrupt-backup');
      } else {
        assert.equal(outcome.status, 'fulfilled');
        assert.ok(Buffer.from((outcome as PromiseFulfilledResult<DecodeBlockResult>).value.data).equals(blocks[index] as Buffer));
      }
    });
  } finally {
    await pool.close();
  }
});

test('many tasks over two workers, posted two at a time each, all come back right', async () => {
  const pool = new WorkerPool(2);
  try {
    const blocks = Array.from({ length: 24 }, () => randomBytes(128 * 1024));
    const decoded = await Promise.all(blocks.map((data) => pool.run<DecodeBlockResult>(decodeTask(data))));
    decoded.forEach((result, index) => assert.ok(Buffer.from(result.data).equals(blocks[index] as Buffer)));
  } finally {
    assert.deepEqual(await pool.close(), [0, 0]);
  }
});
