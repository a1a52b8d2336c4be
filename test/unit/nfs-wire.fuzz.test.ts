// The NFS server's parsers of outside bytes (XDR, RPC calls, record marking, every NFS and MOUNT
// procedure's arguments) fed random and mutated input: an answer or our own error, never a crash.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { mountProcedure } from '../../electron/nfs/mount-program.ts';
import { portmapProcedure } from '../../electron/nfs/portmap-program.ts';
import { encodeHandle, nfsProcedure } from '../../electron/nfs/nfs-program.ts';
import { parseCall, RecordReader } from '../../electron/nfs/rpc.ts';
import { CHUNK, OverlayVolume, VM_FOLDER_ID } from '../../electron/nfs/volume.ts';
import { XdrReader, XdrWriter } from '../../electron/nfs/xdr.ts';

const cache = await mkdtemp(join(tmpdir(), 'lifeboat-nfs-fuzz-'));
after(() => rm(cache, { recursive: true, force: true }));
const base = Buffer.alloc(3 * CHUNK + 100);
for (let i = 0; i < base.length; i++) base[i] = i % 251;
async function folders(): Promise<{ exportFolder: string; vmFolder: string; cacheFolder: string }> {
  const root = await mkdtemp(join(cache, 'volume-'));
  await mkdir(join(root, 'export', 'vm'), { recursive: true });
  await mkdir(join(root, 'cache'));
  return { exportFolder: join(root, 'export'), vmFolder: 'vm', cacheFolder: join(root, 'cache') };
}
const volume = await OverlayVolume.open('fuzz', await folders(), [{ name: 'disk-flat.vmdk', disk: new BytesDisk(base, 'base') }]);
after(() => volume.close());

async function ours(fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
  }
}

test('random records, calls and procedure arguments get an answer or our own error', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 22 }), async (bytes, procedure) => {
      await ours(() => parseCall(bytes));
      await ours(() => new RecordReader(4096).push(Buffer.from(bytes)));
      // Arguments that start with a valid handle reach deeper into each procedure.
      const withHandle = Buffer.concat([new XdrWriter().opaque(encodeHandle(1, 1 + (procedure % 3))).bytes(), bytes]);
      for (const args of [bytes, withHandle]) {
        await ours(() => nfsProcedure(procedure, new XdrReader(args), (id) => (id === 1 ? volume : null)));
        await ours(() => portmapProcedure(procedure % 6, new XdrReader(args), 2049));
        await ours(() =>
          mountProcedure(procedure % 7, new XdrReader(args), {
            list: () => [{ path: '/x', exportId: 1, generation: 0, rootId: 1, allowed: procedure % 2 === 0 }],
            find: (path) => (path === '/x' ? { path, exportId: 1, generation: 0, rootId: 1, allowed: procedure % 2 === 0 } : null),
          }),
        );
      }
    }),
    { numRuns: 500 },
  );
});

test('the write cache: partial writes across chunks read back merged, the base untouched', async () => {
  const volume = await OverlayVolume.open('cache', await folders(), [{ name: 'disk-flat.vmdk', disk: new BytesDisk(base, 'base') }]);
  after(() => volume.close());
  const id = volume.lookup(VM_FOLDER_ID, 'disk-flat.vmdk');
  const patch = Buffer.alloc(CHUNK + 10, 0xee);
  await volume.write(id, CHUNK - 5, patch);
  const { data } = await volume.read(id, 0, base.length);
  const expected = Buffer.from(base);
  patch.copy(expected, CHUNK - 5);
  assert.ok(Buffer.from(data).equals(expected));
  assert.equal(base[CHUNK], CHUNK % 251, 'the base is never written');
  await volume.setSize(id, 10);
  await volume.setSize(id, CHUNK * 2);
  const grown = await volume.read(id, 0, CHUNK * 2);
  assert.ok(
    Buffer.from(grown.data)
      .subarray(10)
      .every((byte) => byte === 0),
    'past a shrink the file reads zeros',
  );
  assert.deepEqual(Buffer.from(grown.data).subarray(0, 10), base.subarray(0, 10));
});
