// CRC-32C, eight bytes a step: the same value as the bytewise definition for any bytes, seed and
// range, and the check value of the standard ("123456789" → 0xe3069283).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32c } from '../../electron/filesystems/crc32c.ts';

/** The definition, a bit at a time. */
function bitwise(seed: number, bytes: Uint8Array, start: number, end: number): number {
  let crc = seed >>> 0;
  for (let at = start; at < end; at++) {
    crc ^= bytes[at] as number;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (0x82f63b78 ^ (crc >>> 1)) >>> 0 : crc >>> 1;
  }
  return crc >>> 0;
}

test('the standard check value', () => {
  assert.equal(~crc32c(0xffffffff, Buffer.from('123456789')) >>> 0, 0xe3069283);
});

test('any bytes, seed and range give the bitwise definition', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat(), fc.nat(), (bytes, seed, a, b) => {
      const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
      const end = start + (bytes.length - start === 0 ? 0 : b % (bytes.length - start + 1));
      assert.equal(crc32c(seed, bytes, start, end), bitwise(seed, bytes, start, end));
    }),
    { numRuns: 2000 },
  );
});
