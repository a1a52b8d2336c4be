// isAllZero against the obvious definition, for blocks of every size around the 1 MiB zero
// buffer it compares against, at odd byte offsets, with one non-zero byte anywhere or none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isAllZero } from '../../electron/disks/zero.ts';

const MIB = 1024 * 1024;

test('isAllZero: true exactly when every byte is zero', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.nat(64), fc.integer({ min: MIB - 64, max: MIB + 64 }), fc.integer({ min: 2 * MIB, max: 3 * MIB })),
      fc.nat(7),
      fc.option(fc.tuple(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }))),
      (length, shift, poke) => {
        const block = new Uint8Array(length + shift).subarray(shift);
        if (poke && length > 0) block[Math.floor(poke[0] * length)] = poke[1];
        assert.equal(
          isAllZero(block),
          block.every((byte) => byte === 0),
        );
      },
    ),
    { numRuns: 300 },
  );
});
