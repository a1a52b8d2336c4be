// The fast-hash sidecar parser: a real sidecar damaged anywhere is refused with one clear error
// (or, forged with a matching checksum, accepted only when its structure holds); random bytes too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createXXHash128 } from 'hash-wasm';
import { LifeboatError } from '../../electron/errors.ts';
import { sha256Hex } from '../../electron/repository/block-map.ts';
import {
  decodeFastHashFile,
  FAST_HASH_BYTES,
  FAST_HASH_HEADER_BYTES,
  hashesOf,
  newFastHashFile,
} from '../../electron/repository/fast-hash-map.ts';

const BLOCK = 4096;
const COUNT = 12;

/** A sidecar as a backup writes it: hashes of real blocks, a hole (no hash) among them. */
async function realSidecar(): Promise<Buffer> {
  const xxh = await createXXHash128();
  const file = newFastHashFile(BLOCK, COUNT);
  for (let index = 0; index < COUNT; index++) {
    if (index === 4) continue;
    const block = Buffer.alloc(BLOCK, `block ${index} `);
    hashesOf(file).set(xxh.init().update(block).digest('binary'), index * FAST_HASH_BYTES);
  }
  return file;
}

/** Parsed (then whole: one hash per block) or refused with our own error. */
function parsedOrRefused(bytes: Buffer, sha256: string): void {
  try {
    const hashes = decodeFastHashFile(bytes, { blockSize: BLOCK, blockCount: COUNT, sha256 });
    assert.equal(hashes.length, COUNT * FAST_HASH_BYTES);
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${String(error)}`);
    assert.equal(error.code, 'corrupt-backup');
    assert.match(error.message, /^fast-hash file is damaged \(.+\)$/);
  }
}

test('fast-hash sidecar: a real one parses; damaged bytes are refused, forged ones must still hold together', async () => {
  const file = await realSidecar();
  const expected = { blockSize: BLOCK, blockCount: COUNT, sha256: sha256Hex(file) };
  assert.ok(decodeFastHashFile(file, expected).equals(hashesOf(file)));
  assert.throws(() => decodeFastHashFile(file, { ...expected, blockCount: COUNT + 1 }), /block count differs/);
  assert.throws(() => decodeFastHashFile(file, { ...expected, blockSize: BLOCK * 2 }), /block size differs/);
  fc.assert(
    fc.property(fc.nat(file.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const damaged = Buffer.from(file);
      damaged[at] = (damaged[at] as number) ^ xor;
      assert.throws(() => decodeFastHashFile(damaged, expected), /its checksum does not match/);
      // Forged with a matching checksum: a damaged header is still refused.
      if (at < FAST_HASH_HEADER_BYTES)
        assert.throws(() => decodeFastHashFile(damaged, { ...expected, sha256: sha256Hex(damaged) }), LifeboatError);
      else parsedOrRefused(damaged, sha256Hex(damaged));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.nat(file.length), fc.uint8Array({ maxLength: 64 }), (cut, tail) => {
      const reshaped = Buffer.concat([file.subarray(0, cut), tail]);
      parsedOrRefused(reshaped, sha256Hex(reshaped));
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => parsedOrRefused(Buffer.from(bytes), sha256Hex(bytes))),
    { numRuns: 300 },
  );
});
