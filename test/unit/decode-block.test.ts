// A stored block decoded for a reader outside a restore (decode-block): libzstd and node:zlib give
// the same bytes, in a buffer of the block's own size that can be moved to another thread; a
// damaged frame, a wrong length or a wrong SHA-256 is refused as a corrupt block by either.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { Codec, compressBlock } from '../../electron/repository/codec.ts';
import { decodeBlockTask } from '../../electron/workers/decode-block.ts';
import type { DecodeBlockTask } from '../../electron/workers/messages.ts';
import { zstdInto } from '../../electron/workers/zstd-into.ts';

const libzstd = zstdInto();
const decoders = [
  ['libzstd', libzstd],
  ['node:zlib', null],
] as const;

function taskOf(block: Uint8Array, overrides: Partial<DecodeBlockTask> = {}): DecodeBlockTask {
  const { codec, payload } = compressBlock(block, Codec.zstd);
  return {
    type: 'decode-block',
    payload,
    codec,
    rawLength: block.length,
    sha256: createHash('sha256').update(block).digest(),
    dataKey: null,
    ...overrides,
  };
}

const guestLike = (seed: number): Buffer =>
  Buffer.concat([Buffer.alloc(40_000, `log line ${seed}\n`), randomBytes(8_000), Buffer.alloc(16_000 + (seed % 977), seed % 256)]);

test('both decoders give the block, in an ArrayBuffer of its own size', () => {
  assert.notEqual(libzstd, null, 'libzstd1 is installed here');
  for (const block of [guestLike(1), randomBytes(65_536), Buffer.alloc(1 << 20)]) {
    for (const [name, zstd] of decoders) {
      const { data } = decodeBlockTask(taskOf(block), zstd);
      assert.deepEqual(Buffer.from(data), block, name);
      assert.equal(data.buffer.byteLength, block.length, `${name}: nothing more to move than the block`);
    }
  }
});

test('a damaged frame, a wrong length or a wrong SHA-256 is a corrupt block, for either decoder', () => {
  fc.assert(
    fc.property(fc.nat(1000), fc.nat(), fc.integer({ min: 1, max: 255 }), (seed, position, flip) => {
      const block = guestLike(seed);
      const good = taskOf(block);
      const damaged = Uint8Array.prototype.slice.call(good.payload);
      damaged[position % damaged.length] = (damaged[position % damaged.length] as number) ^ flip;
      const wrongHash = Uint8Array.prototype.slice.call(good.sha256);
      wrongHash[0] = (wrongHash[0] as number) ^ 1;
      for (const [name, zstd] of decoders) {
        for (const bad of [{ payload: damaged }, { rawLength: block.length - 1 }, { sha256: wrongHash }]) {
          assert.throws(() => decodeBlockTask({ ...good, ...bad }, zstd), { code: 'corrupt-backup' }, `${name} ${Object.keys(bad)[0]}`);
        }
      }
    }),
    { numRuns: 60 },
  );
});
