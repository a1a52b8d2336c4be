// A restored disk's room reserved before it is written (reserve-room.ts): the runs of data blocks
// found from the block map, exactly; their room reserved on the kernel's ext4, XFS, btrfs and
// tmpfs, the file still reading as zeros and its holes left holes; a tmpfs too small refused as
// target-full before anything is written; a file system or an addon that cannot reserve said, and
// the restore goes on without. Loop mounts need root (CI runs as root); elsewhere those skip.
import assert from 'node:assert/strict';
import { open, readFile, stat } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { seekNative, type SeekNative } from '../../electron/disks/seek-data.ts';
import { BlockKind, RECORD_BYTES, writeRecord } from '../../electron/repository/block-map.ts';
import { dataRuns, reserveDataRoom, type DataRuns } from '../../electron/restore/reserve-room.ts';
import { loopMountedFolder, smallTmpfs, tempDir } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const BLOCK = MIB;

/** A merged block map: `data[i]` says whether block i holds data; the last block may be short. */
function mapOf(data: boolean[], lastLength = BLOCK): DataRuns {
  const map = new Uint8Array(data.length * RECORD_BYTES);
  data.forEach((isData, index) => {
    if (!isData) return;
    const rawLength = index === data.length - 1 ? lastLength : BLOCK;
    writeRecord(map, index * RECORD_BYTES, {
      index,
      kind: BlockKind.data,
      codec: 0,
      dataFile: 1,
      offset: 0,
      storedLength: rawLength,
      rawLength,
      sha256: new Uint8Array(32),
    });
  });
  return { map, blockCount: data.length, blockSize: BLOCK };
}

const pattern = [true, true, false, true, false, false, true, true, true, false, false, false, true, false, true, true];
const dataBytes = pattern.filter(Boolean).length * BLOCK;

async function sparseFile(folder: string, blocks: number): Promise<string> {
  const path = join(folder, 'disk-flat.vmdk');
  const handle = await open(path, 'wx');
  await handle.truncate(blocks * BLOCK);
  await handle.close();
  return path;
}

test('the data runs are exactly the data blocks, neighbours merged, the last block at its length', () => {
  assert.deepEqual([...dataRuns(mapOf([]))], []);
  assert.deepEqual([...dataRuns(mapOf([false, false]))], []);
  assert.deepEqual(
    [...dataRuns(mapOf([true, true, false, true], 4096))],
    [
      [0, 2 * BLOCK],
      [3 * BLOCK, 3 * BLOCK + 4096],
    ],
  );
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 200 }), fc.integer({ min: 1, max: BLOCK }), (data, lastLength) => {
      const runs = [...dataRuns(mapOf(data, lastLength))];
      const covered = new Set<number>();
      let previousEnd = -1;
      for (const [start, end] of runs) {
        assert.ok(start > previousEnd, 'in order, apart (touching runs are one)');
        assert.equal(start % BLOCK, 0);
        for (let index = start / BLOCK; index * BLOCK < end; index++) covered.add(index);
        const lastBlock = Math.ceil(end / BLOCK) - 1;
        assert.equal(end, lastBlock * BLOCK + (lastBlock === data.length - 1 ? lastLength : BLOCK));
        previousEnd = end;
      }
      assert.deepEqual(
        [...covered],
        data.flatMap((isData, index) => (isData ? [index] : [])),
      );
    }),
    { numRuns: 300 },
  );
});

const places = {
  ext4: () => loopMountedFolder('ext4', 64),
  xfs: () => loopMountedFolder('xfs', 300),
  btrfs: () => loopMountedFolder('btrfs', 128),
  tmpfs: () => smallTmpfs('64m'),
};

for (const [kind, place] of Object.entries(places)) {
  test(`${kind}: the data's room is reserved, the file reads as zeros and its holes stay holes`, async (t) => {
    const folder = await place();
    if (folder.skip) return t.skip(folder.skip);
    const path = await sparseFile(folder.path as string, pattern.length);
    const before = (await stat(path)).blocks * 512;
    assert.equal(await reserveDataRoom(path, mapOf(pattern), `${kind} test`), null);
    const allocated = (await stat(path)).blocks * 512 - before;
    assert.ok(allocated >= dataBytes, `${allocated} bytes reserved for ${dataBytes} of data`);
    assert.ok(allocated < pattern.length * BLOCK, `the holes were reserved too: ${allocated} bytes`);
    assert.ok((await readFile(path)).every((byte) => byte === 0));
    // The writes that follow land in the reserved room, as a restore's do.
    const handle = await open(path, 'r+');
    await handle.write(Buffer.alloc(BLOCK, 0x5a), 0, BLOCK, 3 * BLOCK);
    await handle.close();
    const after = await readFile(path);
    assert.ok(after.subarray(3 * BLOCK, 4 * BLOCK).every((byte) => byte === 0x5a));
    assert.ok(after.subarray(0, 3 * BLOCK).every((byte) => byte === 0));
  });
}

test('a target without the room is target-full before anything is written', async (t) => {
  const small = await smallTmpfs('4m');
  if (small.skip) return t.skip(small.skip);
  const path = await sparseFile(small.path as string, pattern.length);
  await assert.rejects(reserveDataRoom(path, mapOf(pattern), 'datastore tiny'), {
    code: 'target-full',
    message: /^datastore tiny ran out of space reserving room for the disk's data \(fallocate: No space left on device\)$/,
  });
});

test('where nothing can be reserved the reason comes back and the file is left as it was', async () => {
  const path = await sparseFile(await tempDir(), pattern.length);
  const runs = mapOf(pattern);
  const native = seekNative() as SeekNative;
  assert.equal(await reserveDataRoom(path, runs, 'x', 'the SEEK_DATA addon is not built'), 'the SEEK_DATA addon is not built');
  assert.match((await reserveDataRoom(path, runs, 'x', { seek: native.seek })) ?? '', /predates fallocate/);
  // What NFS v3 or a FUSE file system answers (the kernel's own file systems here all reserve).
  const unsupported = (): never => {
    throw Object.assign(new Error('fallocate: Operation not supported'), { errno: constants.errno.EOPNOTSUPP });
  };
  assert.match((await reserveDataRoom(path, runs, 'x', { ...native, allocate: unsupported })) ?? '', /does not reserve room ahead/);
  assert.equal((await stat(path)).blocks, 0);
  // Any other failure is not taken for "cannot reserve".
  const badDescriptor = (): never => {
    throw Object.assign(new Error('fallocate: Bad file descriptor'), { errno: constants.errno.EBADF });
  };
  await assert.rejects(reserveDataRoom(path, runs, 'x', { ...native, allocate: badDescriptor }), /Bad file descriptor/);
});
