// The fixed VHD footer parser on random and damaged footers: a footer or our own clear error,
// never a crash; a footer we write always reads back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { parseVhdFooter, vhdFooter } from '../../electron/disks/vhd.ts';

test('a written VHD footer reads back; random and damaged ones are refused with our own error', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 4 * 1024 * 1024 }),
      fc.uint8Array({ minLength: 0, maxLength: 600 }),
      fc.nat(511),
      fc.integer({ min: 1, max: 255 }),
      (mib, random, at, flip) => {
        const size = mib * 1024 * 1024;
        assert.equal(parseVhdFooter(vhdFooter(size)).currentSize, size);
        const damaged = Buffer.from(vhdFooter(size));
        damaged[at] = (damaged[at] as number) ^ flip;
        for (const bytes of [random, damaged]) {
          const started = performance.now();
          try {
            parseVhdFooter(bytes);
          } catch (error) {
            assert.ok(error instanceof LifeboatError, String(error));
          }
          assert.ok(performance.now() - started < 250);
        }
      },
    ),
    { numRuns: 500 },
  );
});
