// A real monolithicSparse VMDK from qemu-img, read back through our reader; then the same file
// with random bytes of its metadata damaged: every read (and every extents) returns or fails with corrupt-disk.
import assert from 'node:assert/strict';
import { copyFile, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openDisk } from '../../electron/disks/vmdk-chain.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { qemuImg, tempDir, writeMixedRaw } from '../helpers/env.ts';

test('sparse VMDK: reads equal the raw image; damaged metadata gives clear errors', async () => {
  const dir = await tempDir();
  const raw = join(dir, 'd.raw');
  await writeMixedRaw(raw, 4, 3);
  const vmdk = join(dir, 'd.vmdk');
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raw, vmdk);
  const expected = await readFile(raw);
  const disk = await openDisk(vmdk);
  assert.equal(disk.capacity, expected.length);
  assert.ok((await disk.read(12_345, 2_000_000)).equals(expected.subarray(12_345, 2_012_345)));
  await disk.close();

  const metadataBytes = 64 * 1024; // header, descriptor, grain directory and tables live here
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(metadataBytes - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat(expected.length - 65536),
      async (edits, offset) => {
        const damaged = join(dir, 'damaged.vmdk');
        await copyFile(vmdk, damaged);
        const handle = await open(damaged, 'r+');
        for (const [at, xor] of edits) {
          const byte = Buffer.alloc(1);
          await handle.read(byte, 0, 1, at);
          byte[0] = (byte[0] as number) ^ xor;
          await handle.write(byte, 0, 1, at);
        }
        await handle.close();
        try {
          const opened = await openDisk(damaged);
          try {
            if (offset + 65536 <= opened.capacity) {
              await opened.read(offset, 65536);
              // Extents come from the same grain tables: damage is refused there too, never skipped.
              await opened.extents?.(offset, 65536);
            }
          } finally {
            await opened.close();
          }
        } catch (error) {
          assert.ok(error instanceof LifeboatError || error instanceof RangeError, `unexpected ${(error as Error).message}`);
        }
      },
    ),
    { numRuns: 60 },
  );
});
