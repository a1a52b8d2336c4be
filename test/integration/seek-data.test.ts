// The SEEK_DATA addon against real sparse files on the file systems disks live on: ext4 (the
// home), tmpfs, and loop-mounted XFS and btrfs. Files are made the way thin disks are (truncate,
// then dd conv=notrunc into it); what the addon calls a hole must read as zeros, every written
// byte must lie in data. Where the addon cannot answer, the range is data and one line says why.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileExtents, seekNative, type SeekNative } from '../../electron/disks/seek-data.ts';
import { openDisk } from '../../electron/disks/vmdk-chain.ts';
import type { Extent } from '../../electron/disks/disk.ts';
import { loopMountedFolder, qemuImg, smallTmpfs, tempDir } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const SIZE = 64 * MIB;
/** MiB indexes written, with a partial write that does not end on a block boundary. */
const WRITTEN = [0, 1, 7, 20, 21, 22, 63];

/** A 64 MiB thin file with WRITTEN MiB blocks of non-zero bytes (the last one only half). */
function makeThinFile(path: string): void {
  execFileSync('truncate', ['-s', String(SIZE), path]);
  for (const index of WRITTEN) {
    const count = index === 63 ? 512 : 1024;
    execFileSync(
      'sh',
      ['-c', `yes lifeboat | dd of="${path}" bs=1024 seek=${index * 1024} count=${count} conv=notrunc,fsync iflag=fullblock`],
      {
        stdio: 'ignore',
      },
    );
  }
}

/** Extents cover [start, end) exactly, in order, merged, with holes that read as zeros and every
 * written byte inside data. */
function checkExtents(extents: Extent[], file: Buffer, start: number, end: number): void {
  let position = start;
  extents.forEach((extent, index) => {
    assert.equal(extent.offset, position, 'extents are contiguous');
    assert.ok(extent.length > 0);
    if (index > 0) assert.notEqual(extent.state, extents[index - 1]?.state, 'neighbours of one state are merged');
    const bytes = file.subarray(extent.offset, extent.offset + extent.length);
    if (extent.state === 'zero')
      assert.ok(
        bytes.every((byte) => byte === 0),
        `hole at ${extent.offset} reads as zeros`,
      );
    position += extent.length;
  });
  assert.equal(position, end);
}

async function checkThinFile(t: TestContext, folder: string): Promise<void> {
  const path = join(folder, 'thin.raw');
  makeThinFile(path);
  const file = await readFile(path);
  const handle = await open(path, 'r');
  try {
    const whole = fileExtents(handle.fd, 0, SIZE);
    checkExtents(whole, file, 0, SIZE);
    const data = whole.filter((extent) => extent.state === 'data').reduce((sum, extent) => sum + extent.length, 0);
    // Written MiBs are data; the rest (57.5 MiB never written) is found as holes, up to a
    // file system's allocation unit around each write.
    assert.ok(data >= (WRITTEN.length - 0.5) * MIB && data <= (WRITTEN.length + 2) * MIB, `${data} bytes of data`);
    for (const index of WRITTEN)
      assert.ok(
        whole.some(
          (extent) => extent.state === 'data' && extent.offset <= index * MIB && extent.offset + extent.length >= index * MIB + MIB / 2,
        ),
        `MiB ${index} is data`,
      );
    // A range starting in a hole and ending inside data, and one past the end of the file.
    checkExtents(fileExtents(handle.fd, 3 * MIB + 5, 20 * MIB + 77), file, 3 * MIB + 5, 20 * MIB + 77);
    assert.deepEqual(fileExtents(handle.fd, SIZE, SIZE + MIB), [{ offset: SIZE, length: MIB, state: 'zero' }]);
    t.diagnostic(`${whole.length} extents, ${data} bytes of data`);
  } finally {
    await handle.close();
  }
}

test('the SEEK_DATA addon is built and loads', () => {
  assert.equal(typeof seekNative(), 'object', String(seekNative()));
});

test('a thin file on ext4 (the home): holes and data', async (t) => {
  await checkThinFile(t, await tempDir());
});

test('a thin file on tmpfs', async (t) => {
  const tmpfs = await smallTmpfs('128m');
  if (tmpfs.skip) return t.skip(tmpfs.skip);
  await checkThinFile(t, tmpfs.path as string);
});

for (const type of ['xfs', 'btrfs'] as const) {
  test(`a thin file on a loop-mounted ${type}`, async (t) => {
    const folder = await loopMountedFolder(type, 512);
    if (folder.skip) return t.skip(folder.skip);
    await checkThinFile(t, folder.path as string);
  });
}

test('raw and monolithicFlat images from qemu-img: disk extents skip the holes', async () => {
  const dir = await tempDir();
  const raw = join(dir, 'q.raw');
  qemuImg('create', '-f', 'raw', raw, '64M');
  execFileSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x5a 5M 1M', '-c', 'write -P 0x11 40M 64k', raw], { stdio: 'ignore' });
  const flat = join(dir, 'flat.vmdk');
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, flat);
  const expected = await readFile(raw);
  for (const path of [raw, flat]) {
    const disk = await openDisk(path);
    try {
      const extents = await (disk.extents?.(0, disk.capacity) ?? Promise.reject(new Error('no extents')));
      checkExtents(extents, expected, 0, SIZE);
      const data = extents.filter((extent) => extent.state === 'data');
      assert.ok(data.reduce((sum, extent) => sum + extent.length, 0) <= 4 * MIB, `${path}: holes are found`);
      for (const extent of extents) {
        const read = await disk.read(extent.offset, extent.length);
        assert.ok(read.equals(expected.subarray(extent.offset, extent.offset + extent.length)));
      }
    } finally {
      await disk.close();
    }
  }
});

test('where the addon cannot answer, the range is data and one line says why', async (t) => {
  const warn = t.mock.method(console, 'warn', () => undefined);
  const dir = await tempDir();
  const path = join(dir, 'thin.raw');
  makeThinFile(path);
  const handle = await open(path, 'r');
  try {
    const unsupported: SeekNative = {
      seek: () => {
        throw Object.assign(new Error('lseek: Invalid argument'), { errno: 22 });
      },
    };
    const everything = [{ offset: MIB, length: 10 * MIB, state: 'data' }];
    assert.deepEqual(fileExtents(handle.fd, MIB, 11 * MIB, unsupported), everything);
    assert.deepEqual(fileExtents(handle.fd, MIB, 11 * MIB, 'the SEEK_DATA addon is not built'), everything);
    assert.equal(warn.mock.callCount(), 1, 'said once per process');
    assert.match(String(warn.mock.calls[0]?.arguments[0]), /every byte is read: the file system does not answer SEEK_DATA/);
    // A fault of the caller's own (not an errno from lseek) is not hidden as "unsupported".
    const broken: SeekNative = {
      seek: () => {
        throw new TypeError('not a number');
      },
    };
    assert.throws(() => fileExtents(handle.fd, 0, MIB, broken), TypeError);
  } finally {
    await handle.close();
  }
});
