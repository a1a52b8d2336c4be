// The tape restore's read-ahead ring: copies land whole and unchanged, room comes back only when
// the oldest batch is written (batches end out of order), and a copy never wraps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PayloadRing } from '../../electron/tape/payload-ring.ts';

const bytes = (length: number, fill: number): Uint8Array => new Uint8Array(length).fill(fill);

test('copies are the bytes given, in shared memory, until the ring is full', () => {
  const ring = new PayloadRing(100);
  const first = ring.copyIn(bytes(40, 1));
  const second = ring.copyIn(bytes(40, 2));
  assert.ok(first && second);
  assert.ok(first.buffer instanceof SharedArrayBuffer);
  assert.ok(first.every((byte) => byte === 1) && second.every((byte) => byte === 2));
  assert.equal(ring.copyIn(bytes(30, 3)), null, 'only 20 bytes left');
  assert.ok(ring.copyIn(bytes(20, 4)));
});

test('room comes back when the oldest region is released, not before', () => {
  const ring = new PayloadRing(100);
  ring.copyIn(bytes(40, 1));
  const older = ring.seal();
  ring.copyIn(bytes(40, 2));
  const newer = ring.seal();
  ring.release(newer);
  assert.equal(ring.copyIn(bytes(30, 3)), null, 'the newer batch ended first: its room waits for the older one');
  ring.release(older);
  const copy = ring.copyIn(bytes(30, 3));
  assert.ok(copy?.every((byte) => byte === 3));
});

test('a copy that would cross the end starts at the beginning, and never overwrites unreleased bytes', () => {
  const ring = new PayloadRing(100);
  ring.copyIn(bytes(30, 1));
  const first = ring.seal();
  const kept = ring.copyIn(bytes(40, 2));
  const second = ring.seal();
  ring.release(first);
  // 30 bytes free at the end, 30 at the start.
  assert.equal(ring.copyIn(bytes(35, 3)), null, 'fits neither before the end nor at the start');
  assert.equal(ring.copyIn(bytes(25, 4))?.byteOffset, 70, 'fits before the end');
  assert.equal(ring.copyIn(bytes(10, 5))?.byteOffset, 0, 'would cross the end: the 5-byte tail is skipped');
  assert.equal(ring.copyIn(bytes(25, 6)), null, 'only 20 bytes before the unreleased batch');
  assert.ok(
    kept?.every((byte) => byte === 2),
    'the unreleased batch is intact',
  );
  ring.release(second);
  assert.throws(() => ring.copyIn(bytes(60, 7)), /does not fit/);
});
