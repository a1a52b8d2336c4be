// LVM2 volumes read from a VM's disks, checked against the real tools: PVs, VGs and LVs made by
// lvm2 on loop devices (a GPT partition of disk0 and the whole of disk1), file systems made by
// mke2fs/mkswap and populated through kernel loop mounts, written into the LVs' extents where
// `lvs --segments` says they lie. Our LV bytes equal each image; our tree equals the kernel's.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { DiskSlice } from '../../electron/filesystems/file-system.ts';
import { probePhysicalVolume } from '../../electron/filesystems/lvm/probe.ts';
import { assembleVolumeGroups, type FoundPv } from '../../electron/filesystems/lvm/volume-groups.ts';
import { readPartitionTable } from '../../electron/filesystems/partitions.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { tempDir } from '../helpers/env.ts';
import { run, treeOfFileSystem, treeOfFolder, withMount } from '../helpers/ext4-images.ts';
import { emptyImage, populatedExt4, sgdiskPartition, withLvm, type LoopLvm } from '../helpers/lvm-images.ts';

const MIB = 1024 * 1024;
const skip = process.getuid?.() !== 0 ? 'needs root: loop devices, lvm2 and loop mounts' : false;
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function kernelTree(image: string): Promise<string[]> {
  return withMount(image, 'ro', (folder) => treeOfFolder(folder));
}

async function physicalVolumes(disks: { disk: Disk; name: string }[]): Promise<FoundPv[]> {
  const found: FoundPv[] = [];
  for (const { disk, name } of disks) {
    const table = await readPartitionTable(disk);
    const slices = table.partitions.length > 0 ? table.partitions : [{ index: 0, start: 0, size: disk.capacity }];
    for (const slice of slices) {
      const path = `/${name}/part${slice.index}`;
      const pv = await probePhysicalVolume(new DiskSlice(disk, slice.start, slice.size, path), path);
      if (pv) found.push(pv);
    }
  }
  return found;
}

async function lvBytes(disk: Disk): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = 0; at < disk.capacity; at += 4 * MIB) parts.push(await disk.read(at, Math.min(4 * MIB, disk.capacity - at)));
  return Buffer.concat(parts);
}

/** disk0: GPT with an ext4 part1 and a PV part2; disk1: a whole-disk PV. */
async function makeDisks(dir: string, lvm: LoopLvm): Promise<{ disk0: string; disk1: string; pvs: [string, string] }> {
  const disk0 = join(dir, 'disk0.img');
  const disk1 = join(dir, 'disk1.img');
  await emptyImage(disk0, 64);
  await emptyImage(disk1, 48);
  run('sgdisk', '-n', '1:2048:+8M', '-t', '1:8300', '-n', '2:0:0', '-t', '2:8e00', disk0);
  const [boot, pv] = [1, 2].map((index) => sgdiskPartition(disk0, index));
  assert.ok(boot && pv);
  const bootImage = join(dir, 'boot.img');
  await populatedExt4(bootImage, 8, 'boot');
  run('dd', `if=${bootImage}`, `of=${disk0}`, 'bs=1M', `seek=${boot.start * 512}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none');
  const pv0 = lvm.attach(disk0, { offset: pv.start * 512, size: pv.size * 512 });
  const pv1 = lvm.attach(disk1);
  return { disk0, disk1, pvs: [pv0, pv1] };
}

test(
  'a VG spanning a GPT partition and a whole disk: linear, striped, swap and renamed LVs read as lvm2 and the kernel show',
  { skip },
  async () => {
    const dir = await tempDir('lifeboat-lvm-');
    const vg = `lbt${randomBytes(4).toString('hex')}`;
    await withLvm(async (lvm) => {
      const { disk0, disk1, pvs } = await makeDisks(dir, lvm);
      lvm.run('pvcreate', '-q', pvs[0]);
      lvm.run('pvcreate', '-q', '--pvmetadatacopies', '2', pvs[1]); // a second metadata area at the end of disk1
      lvm.run('vgcreate', '-q', '-s', '1M', vg, ...pvs);
      const create = (...args: string[]) => lvm.run('lvcreate', '-q', '--activate', 'n', '--zero', 'n', ...args);
      create('-L', '8M', '-n', 'root', vg, pvs[0]);
      create('-L', '8M', '-i', '2', '-I', '64k', '-n', 'data', vg, ...pvs);
      create('-L', '4M', '-n', 'swap', vg, pvs[0]);
      create('-L', '8M', '-n', 'old', vg, pvs[1]);
      lvm.run('lvextend', '-q', '-L', '+8M', `${vg}/root`, pvs[1]); // root now has a segment on each PV
      const stale = join(dir, 'disk1-stale.img');
      await copyFile(disk1, stale); // disk1 as it was before the rename
      lvm.run('lvrename', '-q', vg, 'old', 'renamed');

      const images = {
        root: join(dir, 'root.img'),
        data: join(dir, 'data.img'),
        swap: join(dir, 'swap.img'),
        renamed: join(dir, 'renamed.img'),
      };
      await populatedExt4(images.root, 16, 'root');
      await populatedExt4(images.data, 8, 'data');
      await populatedExt4(images.renamed, 8, 'renamed');
      await emptyImage(images.swap, 4);
      run('mkswap', '-q', images.swap);
      for (const [lv, image] of Object.entries(images)) await lvm.writeIntoLv(vg, lv, image);
      const segments = lvm.report('lvs', '--segments', '-o', 'lv_name,devices', `${vg}/root`);
      assert.equal(new Set(segments.map(([, devices]) => devices?.replace(/\(\d+\)$/, ''))).size, 2, 'root has segments on both PVs');
      const lvsSays = lvm
        .report('lvs', '-o', 'lv_name,lv_size', vg)
        .map(([name, size]) => [name, Number(size)])
        .sort();

      const raw = [await RawDisk.open(disk0), await RawDisk.open(disk1)];
      try {
        // The LVs as disks: every byte equals the image written into its extents.
        const found = await physicalVolumes(raw.map((disk, index) => ({ disk, name: `disk${index}` })));
        const [group] = assembleVolumeGroups(found);
        assert.ok(group);
        assert.equal(group.name, vg);
        assert.deepEqual(
          found.map((pv) => pv.label.metadataAreas.length),
          [1, 2],
          'disk1 carries two metadata areas',
        );
        assert.deepEqual(group.lvs.map((lv) => [lv.name, lv.size]).sort(), lvsSays);
        for (const [lv, image] of Object.entries(images)) {
          const disk: Disk | null | undefined = group.lvs.find((candidate) => candidate.name === lv)?.disk;
          assert.ok(disk, `${lv} is readable`);
          assert.equal(sha(await lvBytes(disk)), sha(await readFile(image)), `${lv}'s bytes`);
        }
        assert.equal(group.lvs.find((lv) => lv.name === 'data')?.layout, 'striped, 2 stripes');

        // The browser: the VG once under /lvm, file systems inside LVs as in partitions.
        const browser = await PointBrowser.fromDisks(raw);
        assert.deepEqual(
          (await browser.list('/')).map((entry) => entry.name),
          ['disk0', 'disk1', 'lvm'],
        );
        assert.deepEqual(
          (await browser.list('/lvm')).map((entry) => [entry.name, entry.type]),
          [[vg, 'dir']],
        );
        assert.deepEqual(
          (await browser.list('/disk0')).map((entry) => [entry.name, entry.type, entry.target]),
          [
            ['part1', 'dir', 'ext4 "boot"'],
            ['part2', 'other', `LVM2 physical volume of volume group ${vg}, read at /lvm/${vg}`],
          ],
        );
        assert.deepEqual(
          (await browser.list('/disk1')).map((entry) => entry.target),
          [`LVM2 physical volume of volume group ${vg}, read at /lvm/${vg}`],
        );
        const listed = await browser.list(`/lvm/${vg}`);
        assert.deepEqual(listed.map((entry) => [entry.name, entry.size]).sort(), lvsSays);
        assert.deepEqual(listed.map((entry) => [entry.name, entry.type, entry.target, entry.problem]).sort(), [
          ['data', 'dir', 'ext4 "data"', undefined],
          ['renamed', 'dir', 'ext4 "renamed"', undefined],
          ['root', 'dir', 'ext4 "root"', undefined],
          ['swap', 'other', 'Linux swap (holds no files)', undefined],
        ]);
        for (const lv of ['root', 'data', 'renamed'] as const) {
          assert.deepEqual(await treeOfFileSystem(browser.fileSystemFor(`/lvm/${vg}/${lv}`)), await kernelTree(images[lv]), `${lv}'s tree`);
        }
        assert.equal((await browser.stat(`/lvm/${vg}/root/etc/hostname`)).size, 5);
        assert.equal(browser.isInsideVolume(`/lvm/${vg}/root/etc`), true);
        assert.equal(browser.isInsideVolume(`/lvm/${vg}/root`), false);
        // Index: the swap LV and the PVs are no gaps; the boot partition and three LVs are volumes.
        assert.deepEqual(
          browser.volumes().map((volume) => [volume.path, volume.problem]),
          [
            ['/disk0/part1', null],
            [`/lvm/${vg}/root`, null],
            [`/lvm/${vg}/data`, null],
            [`/lvm/${vg}/renamed`, null],
          ],
        );
      } finally {
        await Promise.all(raw.map((disk) => disk.close()));
      }

      // A disk image from before the rename: the newer copy on disk0 wins, the stale one is named.
      const withStale = await PointBrowser.fromDisks([await RawDisk.open(disk0), await RawDisk.open(stale)]);
      try {
        assert.deepEqual((await withStale.list(`/lvm/${vg}`)).map((entry) => entry.name).sort(), ['data', 'renamed', 'root', 'swap']);
        const [entry] = await withStale.list('/lvm');
        assert.match(
          entry?.notes?.join('\n') ?? '',
          /\/disk1\/part0 holds an older copy of the metadata \(seqno \d+, newest \d+\): ignored/,
        );
      } finally {
        await withStale.close();
      }

      // disk1 missing: LVs needing it are listed with that problem (gaps); the others read.
      const alone = await PointBrowser.fromDisks([await RawDisk.open(disk0)]);
      try {
        const byName = new Map((await alone.list(`/lvm/${vg}`)).map((entry) => [entry.name, entry]));
        assert.match(byName.get('root')?.problem ?? '', /needs physical volume pv1 \(.*\), which is not among the VM's disks/);
        assert.match(byName.get('data')?.problem ?? '', /not among the VM's disks/);
        assert.equal(byName.get('swap')?.target, 'Linux swap (holds no files)');
        assert.deepEqual(
          alone
            .volumes()
            .filter((volume) => volume.problem !== null)
            .map((volume) => volume.path)
            .sort(),
          [`/lvm/${vg}/data`, `/lvm/${vg}/renamed`, `/lvm/${vg}/root`],
        );
        await assert.rejects(alone.list(`/lvm/${vg}/root/etc`), /not among the VM's disks/);
      } finally {
        await alone.close();
      }
    });
  },
);

/** Hand-written metadata as `vgcfgrestore` takes it: an origin with a thick snapshot, a thin
 * pool with its hidden data/metadata LVs and spare, and a thin LV (1 MiB extents). The snapshot's
 * flags are as `lvcreate -s` writes them (LVM2 snapshot_manip.c): the internal snapshot0 VISIBLE,
 * the COW store "snap" (the name the operator gave) hidden. */
function thinAndSnapshotMetadata(vg: string, pvUuid: string, device: string, peCount: number): string {
  const id = (n: number): string => `aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa${String(n).padStart(2, '0')}`;
  const striped = (extents: number, first: number): string =>
    `segment1 {\nstart_extent = 0\nextent_count = ${extents}\ntype = "striped"\nstripe_count = 1\nstripes = [\n"pv0", ${first}\n]\n}`;
  const lv = (name: string, n: number, visible: boolean, segment: string): string =>
    `${name} {\nid = "${id(n)}"\nstatus = ["READ", "WRITE"${visible ? ', "VISIBLE"' : ''}]\nflags = []\nsegment_count = 1\n${segment}\n}`;
  return `${vg} {
id = "abcdef-ghij-klmn-opqr-stuv-wxyz-${randomBytes(3).toString('hex')}"
seqno = 1
format = "lvm2"
status = ["RESIZEABLE", "READ", "WRITE"]
flags = []
extent_size = 2048 # sectors: 1 MiB
max_lv = 0
max_pv = 0
metadata_copies = 0
physical_volumes {
pv0 {
id = "${pvUuid}"
device = "${device}"
status = ["ALLOCATABLE"]
flags = []
dev_size = ${(peCount + 1) * 2048}
pe_start = 2048
pe_count = ${peCount}
}
}
logical_volumes {
${lv('origin', 1, true, striped(8, 0))}
${lv('snap', 2, false, striped(2, 8))}
${lv('snapshot0', 3, true, 'segment1 {\nstart_extent = 0\nextent_count = 8\ntype = "snapshot"\nchunk_size = 8\norigin = "origin"\ncow_store = "snap"\n}')}
${lv('pool', 4, true, 'segment1 {\nstart_extent = 0\nextent_count = 4\ntype = "thin-pool"\nmetadata = "pool_tmeta"\npool = "pool_tdata"\ntransaction_id = 1\nchunk_size = 128\ndiscards = "passdown"\nzero_new_blocks = 1\n}')}
${lv('thin', 5, true, 'segment1 {\nstart_extent = 0\nextent_count = 8\ntype = "thin"\nthin_pool = "pool"\ntransaction_id = 0\ndevice_id = 1\n}')}
${lv('pool_tmeta', 6, false, striped(1, 10))}
${lv('pool_tdata', 7, false, striped(4, 11))}
${lv('lvol0_pmspare', 8, false, striped(1, 15))}
}
}
contents = "Text Format Volume Group"
version = 1
description = "hand-written: a thick snapshot and a thin pool"
`;
}

/** A dm-snapshot persistent COW store holding the chunks where `before` and `after` differ:
 * header (SnAp, valid, version 1, chunk size in sectors) in chunk 0, then exception areas of
 * { old_chunk, new_chunk } at chunk 1 + i * (per_area + 1), each followed by its data chunks. */
function cowStore(before: Buffer, after: Buffer, chunk: number, size: number): { bytes: Buffer; exceptions: number } {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32LE(0x70416e53, 0);
  bytes.writeUInt32LE(1, 4);
  bytes.writeUInt32LE(1, 8);
  bytes.writeUInt32LE(chunk / 512, 12);
  const perArea = chunk / 16;
  let exceptions = 0;
  for (let old = 0; old * chunk < before.length; old++) {
    const range = [old * chunk, (old + 1) * chunk] as const;
    if (before.subarray(...range).equals(after.subarray(...range))) continue;
    const area = Math.floor(exceptions / perArea);
    const areaChunk = 1 + area * (perArea + 1);
    const fresh = areaChunk + 1 + (exceptions % perArea);
    const entry = areaChunk * chunk + (exceptions % perArea) * 16;
    bytes.writeBigUInt64LE(BigInt(old), entry);
    bytes.writeBigUInt64LE(BigInt(fresh), entry + 8);
    before.copy(bytes, fresh * chunk, ...range);
    exceptions++;
  }
  return { bytes, exceptions };
}

test(
  'thin volumes restored by vgcfgrestore are refused by name; a thick snapshot reads through its COW exception store; hidden LVs stay hidden',
  { skip },
  async () => {
    const dir = await tempDir('lifeboat-lvm-thin-');
    const vg = `lbt${randomBytes(4).toString('hex')}`;
    const image = join(dir, 'disk0.img');
    await emptyImage(image, 24);
    await withLvm(async (lvm) => {
      const device = lvm.attach(image);
      lvm.run('pvcreate', '-q', device);
      const [pvRow] = lvm.report('pvs', '-o', 'pv_uuid', device);
      const metadata = join(dir, 'thin.vg');
      await writeFile(metadata, thinAndSnapshotMetadata(vg, pvRow?.[0] ?? '', device, 22));
      lvm.run('vgcfgrestore', '-q', '--force', '-f', metadata, vg);
      const origin = join(dir, 'origin.img');
      await populatedExt4(origin, 8, 'origin', MIB);
      await lvm.writeIntoLv(vg, 'origin', origin);
      const lvsSays = lvm.report('lvs', '-o', 'lv_name,lv_size,lv_attr', vg).map(([name, size, attr]) => [name, Number(size), attr?.[0]]);
      // lvs agrees on what each is: o(rigin), s(napshot), t(hin pool), V (thin volume).
      assert.deepEqual(lvsSays.map(([name, , kind]) => [name, kind]).sort(), [
        ['origin', 'o'],
        ['pool', 't'],
        ['snap', 's'],
        ['thin', 'V'],
      ]);

      // A COW store never written (no device-mapper here) is a snapshot nothing was copied to yet: it reads as its origin.
      const fresh = await PointBrowser.fromDisks([await RawDisk.open(image)]);
      try {
        assert.deepEqual(await treeOfFileSystem(fresh.fileSystemFor(`/lvm/${vg}/snap`)), await kernelTree(origin));
      } finally {
        await fresh.close();
      }
      // The origin moves on (files changed through a kernel mount); the snapshot's COW store holds
      // the old chunks, laid out as dm-snapshot's persistent store: the snapshot reads as before.
      const changed = join(dir, 'changed.img');
      await copyFile(origin, changed);
      await withMount(changed, 'rw', async (folder) => {
        await writeFile(join(folder, 'etc/hostname'), 'renamed-host\n');
        await writeFile(join(folder, 'new.txt'), randomBytes(300_000));
        await rm(join(folder, 'small.txt'));
      });
      const cow = join(dir, 'cow.img');
      const store = cowStore(await readFile(origin), await readFile(changed), 4096, 2 * MIB);
      await writeFile(cow, store.bytes);
      assert.ok(store.exceptions > 3, 'the change moved some chunks into the store');
      await lvm.writeIntoLv(vg, 'origin', changed);
      await lvm.writeIntoLv(vg, 'snap', cow);

      const browser = await PointBrowser.fromDisks([await RawDisk.open(image)]);
      try {
        const listed = await browser.list(`/lvm/${vg}`);
        assert.deepEqual(listed.map((entry) => [entry.name, entry.size]).sort(), lvsSays.map(([name, size]) => [name, size]).sort());
        assert.deepEqual(
          listed.map((entry) => [entry.name, entry.type, entry.target, entry.problem]),
          [
            ['origin', 'dir', 'ext4 "origin"', undefined],
            ['snap', 'dir', 'ext4 "origin"', undefined],
            ['pool', 'other', 'thin pool', undefined],
            ['thin', 'other', 'thin volume: not read', 'thin volume: not read'],
          ],
        );
        assert.deepEqual(await treeOfFileSystem(browser.fileSystemFor(`/lvm/${vg}/origin`)), await kernelTree(changed));
        assert.deepEqual(await treeOfFileSystem(browser.fileSystemFor(`/lvm/${vg}/snap`)), await kernelTree(origin));
        assert.notDeepEqual(await kernelTree(changed), await kernelTree(origin));
        const [group] = assembleVolumeGroups(await physicalVolumes([{ disk: await RawDisk.open(image), name: 'disk0' }]));
        const snapshot: Disk | null | undefined = group?.lvs.find((lv) => lv.name === 'snap')?.disk;
        assert.ok(snapshot);
        assert.equal(sha(await lvBytes(snapshot)), sha(await readFile(origin)), 'the snapshot reads, byte for byte, as the origin was');
        assert.deepEqual(
          browser.volumes().map((volume) => [volume.path, volume.problem]),
          [
            [`/lvm/${vg}/origin`, null],
            [`/lvm/${vg}/snap`, null],
            [`/lvm/${vg}/thin`, 'thin volume: not read'],
          ],
        );
        await assert.rejects(browser.list(`/lvm/${vg}/thin`), /thin volume: not read/);
        await assert.rejects(browser.list(`/lvm/${vg}/pool`), /thin pool; no files to read/);
      } finally {
        await browser.close();
      }
    });
  },
);

test('metadata text that wraps around the end of its small metadata area reads whole, newest copy first', { skip }, async (context) => {
  const dir = await tempDir('lifeboat-lvm-ring-');
  const vg = `lbt${randomBytes(4).toString('hex')}`;
  const image = join(dir, 'disk0.img');
  await emptyImage(image, 64);
  await withLvm(async (lvm) => {
    const device = lvm.attach(image);
    lvm.run('pvcreate', '-q', '--dataalignment', '64k', '--metadatasize', '16k', device); // a 60 KiB ring
    lvm.run('vgcreate', '-q', '-s', '1M', vg, device);
    const wrapped = async (): Promise<boolean> => {
      const header = Buffer.alloc(512); // the metadata area header, 4 KiB in
      const handle = await open(image, 'r');
      await handle.read(header, 0, 512, 4096).finally(() => handle.close());
      const size = Number(header.readBigUInt64LE(32));
      return Number(header.readBigUInt64LE(40)) + Number(header.readBigUInt64LE(48)) > size;
    };
    let made = 0;
    while (!(await wrapped()) && made < 40)
      lvm.run('lvcreate', '-q', '--activate', 'n', '--zero', 'n', '-L', '1M', '-n', `lv${made++}`, vg);
    assert.ok(await wrapped(), 'the newest metadata text wraps around the end of its area');
    const lvsSays = lvm
      .report('lvs', '-o', 'lv_name,lv_size', vg)
      .map(([name, size]) => [name, Number(size)])
      .sort();
    const [seqno] = lvm.report('vgs', '-o', 'seqno', vg);
    const browser = await PointBrowser.fromDisks([await RawDisk.open(image)]);
    try {
      assert.deepEqual((await browser.list(`/lvm/${vg}`)).map((entry) => [entry.name, entry.size]).sort(), lvsSays);
      context.diagnostic(`${made} LVs made before the text wrapped`);
      const [pv] = await physicalVolumes([{ disk: await RawDisk.open(image), name: 'disk0' }]);
      assert.equal(pv?.metadata?.seqno, Number(seqno?.[0]));
    } finally {
      await browser.close();
    }
  });
});
