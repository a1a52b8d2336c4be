// The browser's grouping of multi-device file systems (btrfs plugs in this way): every volume
// of the VM is probed, members are grouped by fsid, each group opened once at its first member
// in disk order, the other members listed as what they are. A fake kind stands in for btrfs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { LifeboatError } from '../../electron/errors.ts';
import type { FileSystem, FsEntry } from '../../electron/filesystems/file-system.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import type { MultiDeviceOpener } from '../../electron/items/volume-openers.ts';
import { ItemPath } from '../../shared/domain.ts';
import { splitVolumePath } from '../../shared/item-paths.ts';

const MAGIC = 'FAKEMULTI';

function member(fsid: string, deviceId: number): BytesDisk {
  const bytes = Buffer.alloc(64 * 1024);
  bytes.write(`${MAGIC} ${fsid} ${deviceId}`, 0, 'latin1');
  return new BytesDisk(bytes, `member ${deviceId} of ${fsid}`);
}

async function header(disk: Disk): Promise<string[]> {
  return (await disk.read(0, 64)).toString('latin1').replace(/\0.*$/s, '').split(' ');
}

function fakeKind(opened: string[][]): MultiDeviceOpener {
  return {
    kind: 'fakefs',
    async probe(disk) {
      const [magic, fsid, deviceId] = await header(disk);
      return magic === MAGIC && fsid ? { fsid, deviceId: Number(deviceId), devices: 2 } : null;
    },
    async open(members) {
      const names = await Promise.all(members.map(async (disk) => (await header(disk)).slice(1).join('/')));
      opened.push(names);
      if (names[0]?.startsWith('broken')) throw new LifeboatError('corrupt-disk', 'its chunk tree is damaged');
      const entries: FsEntry[] = names.map((name) => ({ name: name.replace('/', '-'), type: 'file', size: 0, mtime: null, mode: null }));
      const fs: FileSystem = {
        kind: 'btrfs',
        label: names[0] ?? '',
        notes: [],
        list: async () => entries,
        stat: async () => entries[0] as FsEntry,
        async *read() {},
      };
      return fs;
    },
  };
}

test('members of a multi-device file system are grouped by fsid and opened once, at the first in disk order', async () => {
  const opened: string[][] = [];
  const disks = [member('A', 1), member('B', 1), member('A', 2), member('broken', 1)];
  const browser = await PointBrowser.fromDisks(disks, [fakeKind(opened)]);
  assert.deepEqual(opened, [['A/1', 'A/2'], ['B/1'], ['broken/1']]);
  const volumes = await Promise.all(['/disk0', '/disk1', '/disk2', '/disk3'].map(async (disk) => (await browser.list(disk))[0]));
  assert.deepEqual(
    volumes.map((entry) => [entry?.type, entry?.target]),
    [
      ['dir', 'btrfs "A/1"'],
      ['dir', 'btrfs "B/1"'],
      ['other', 'fakefs device 2 of A, read at /disk0/part0'],
      ['other', 'fakefs file system broken: its chunk tree is damaged'],
    ],
  );
  assert.deepEqual(
    (await browser.list('/disk0/part0')).map((entry) => entry.name),
    ['A-1', 'A-2'],
  );
  // The second member is no gap (its files are read at the first); the broken one is.
  assert.deepEqual(
    browser.volumes().map((volume) => [volume.path, volume.problem]),
    [
      ['/disk0/part0', null],
      ['/disk1/part0', null],
      ['/disk3/part0', 'fakefs file system broken: its chunk tree is damaged'],
    ],
  );
  await assert.rejects(browser.list('/disk2/part0'), /fakefs device 2 of A, read at \/disk0\/part0; no files to read/);
});

test('item paths: volumes are /diskN/partM and /lvm/<vg>/<lv>; only what is inside one is picked', async () => {
  const browser = await PointBrowser.fromDisks([member('A', 1)], [fakeKind([])]);
  for (const [path, inside] of [
    ['/disk0', false],
    ['/disk0/part0', false],
    ['/disk0/part0/etc', true],
    ['/lvm', false],
    ['/lvm/vg', false],
    ['/lvm/vg/root', false],
    ['/lvm/vg/root/etc/hosts', true],
  ] as const)
    assert.equal(browser.isInsideVolume(path), inside, path);
  assert.deepEqual(splitVolumePath('/lvm/vg/root/etc/hosts'), { volume: '/lvm/vg/root', inner: '/etc/hosts' });
  assert.deepEqual(splitVolumePath('/disk0/part1'), { volume: '/disk0/part1', inner: '/' });
  assert.equal(splitVolumePath('/lvm/vg'), null);
  assert.ok(ItemPath.safeParse('/lvm/vg/root/etc').success && ItemPath.safeParse('/disk3/part1/x').success);
  assert.ok(!ItemPath.safeParse('/lvmx/a').success && !ItemPath.safeParse('etc/passwd').success);
  await assert.rejects(browser.list('/lvm/vg'), /no volume group vg/);
  assert.deepEqual(
    (await browser.list('/')).map((entry) => entry.name),
    ['disk0'],
  );
});
