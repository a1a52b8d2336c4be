// The seek-data addon's zstd decoder (the system's libzstd) against node:zlib's: the same bytes for
// the same frame, and a frame that is damaged or decodes to more than the block holds is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { test } from 'node:test';
import { zstdInto } from '../../electron/workers/zstd-into.ts';

const decode = zstdInto();

test('libzstd is opened on this machine (Debian: libzstd1)', () => {
  assert.notEqual(decode, null);
});

test('a frame decodes to the bytes node:zlib makes of it, into the buffer given', () => {
  const block = Buffer.concat([Buffer.alloc(300_000, 'log line 42\n'), randomBytes(50_000), Buffer.alloc(698_576, 7)]);
  const frame = zlib.zstdCompressSync(block);
  const into = new Uint8Array(block.length);
  assert.equal(decode?.(frame, into), block.length);
  assert.deepEqual(Buffer.from(into), zlib.zstdDecompressSync(frame));
});

test('a frame larger than the block, or not zstd, is refused with the reason', () => {
  const frame = zlib.zstdCompressSync(Buffer.alloc(8192, 1));
  assert.throws(() => decode?.(frame, new Uint8Array(4096)), /too small/);
  assert.throws(() => decode?.(randomBytes(1000), new Uint8Array(4096)), /Unknown frame descriptor|Data corruption|prefix/i);
});

test('without the addon there is no decoder (node:zlib decodes), said once', (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  assert.equal(zstdInto('no addon here'), null);
  assert.equal(zstdInto({ seek: () => -1 }), null);
  assert.ok(warn.mock.calls.length <= 1);
});
