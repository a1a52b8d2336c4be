// An Ubuntu Server disk layout end to end through the engine: GPT with an ESP (mkfs.fat), /boot
// (ext4) and an LVM2 PV holding an ext4 root LV and a swap LV (lvm2 on a loop device, file
// systems populated through kernel loop mounts and written into the LVs' extents). Backed up,
// indexed, searched, browsed and restored from /lvm/<vg>/root; compared with the kernel's view.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import type { FileEntry } from '../../shared/domain.ts';
import { makeVmFolder, openEngine, runJob, tempDir } from '../helpers/env.ts';
import { run, treeOfFolder, withMount } from '../helpers/ext4-images.ts';
import { emptyImage, populatedExt4, sgdiskPartition, withLvm } from '../helpers/lvm-images.ts';
import { asOwner } from '../helpers/owner.ts';

const MIB = 1024 * 1024;
const skip = process.getuid?.() !== 0 ? 'needs root: loop devices, lvm2 and loop mounts' : false;

test(
  'an Ubuntu Server layout (GPT: ESP, /boot ext4, LVM with ext4 root and swap) backs up, indexes, browses and restores from /lvm',
  { skip },
  async () => {
    const dir = await tempDir('lifeboat-lvm-ubuntu-');
    const vg = `ubuntu${randomBytes(3).toString('hex')}`;
    const raw = join(dir, 'disk0.img');
    await emptyImage(raw, 64);
    run('sgdisk', '-n', '1:2048:+4M', '-t', '1:ef00', '-n', '2:0:+8M', '-t', '2:8300', '-n', '3:0:0', '-t', '3:8e00', raw);
    const [esp, boot, pvPart] = [1, 2, 3].map((index) => sgdiskPartition(raw, index));
    assert.ok(esp && boot && pvPart);
    const bootImage = join(dir, 'boot.img');
    await populatedExt4(bootImage, 8, 'boot', MIB);
    run('mkfs.fat', '-n', 'ESP', '-C', join(dir, 'esp.img'), '4096');
    for (const [image, part] of [
      [join(dir, 'esp.img'), esp],
      [bootImage, boot],
    ] as const)
      run('dd', `if=${image}`, `of=${raw}`, 'bs=1M', `seek=${part.start * 512}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none');
    const rootImage = join(dir, 'root.img');
    await populatedExt4(rootImage, 24, 'root');
    await withLvm(async (lvm) => {
      const device = lvm.attach(raw, { offset: pvPart.start * 512, size: pvPart.size * 512 });
      lvm.run('pvcreate', '-q', device);
      lvm.run('vgcreate', '-q', '-s', '1M', vg, device);
      lvm.run('lvcreate', '-q', '--activate', 'n', '--zero', 'n', '-L', '24M', '-n', 'root', vg);
      lvm.run('lvcreate', '-q', '--activate', 'n', '--zero', 'n', '-L', '4M', '-n', 'swap_1', vg);
      await lvm.writeIntoLv(vg, 'root', rootImage);
      const swap = join(dir, 'swap.img');
      await emptyImage(swap, 4);
      run('mkswap', '-q', swap);
      await lvm.writeIntoLv(vg, 'swap_1', swap);
      await copyFile(raw, join(dir, 'vm-disk.img')); // the guest's disk as it stands, before the VG is removed
    });

    const source = join(dir, 'source');
    await mkdir(source);
    await makeVmFolder(source, 'ubuntu', join(dir, 'vm-disk.img'), 'monolithicSparse');
    const engine = await openEngine(join(dir, 'home'));
    try {
      assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
      await engine.jobs.idle();
      const index = engine.catalog.listJobs().find((job) => job.kind === 'index');
      assert.equal(index?.state, 'succeeded');
      const list = (path: string) =>
        dispatch(engine, asOwner(), 'files.list', { vm: 'ubuntu', point: 'latest', path }) as Promise<FileEntry[]>;
      assert.deepEqual(
        (await list('/')).map((entry) => entry.name),
        ['disk0', 'lvm'],
      );
      assert.deepEqual(
        (await list('/disk0')).map((entry) => entry.target),
        ['fat "ESP"', 'ext4 "boot"', `LVM2 physical volume of volume group ${vg}, read at /lvm/${vg}`],
      );
      assert.deepEqual(
        (await list(`/lvm/${vg}`)).map((entry) => [entry.name, entry.target]),
        [
          ['root', 'ext4 "root"'],
          ['swap_1', 'Linux swap (holds no files)'],
        ],
      );
      // The index holds the root LV's files under /lvm, and no gap (swap and the PV hold no files).
      const search = engine.files.search('hostname', undefined);
      assert.deepEqual(search.hits.map((hit) => hit.path).sort(), [`/disk0/part2/etc/hostname`, `/lvm/${vg}/root/etc/hostname`]);
      assert.deepEqual(search.gaps, []);

      const out = join(dir, 'out');
      const job = await runJob(
        engine,
        await engine.files.startItemRestore(
          { vm: 'ubuntu', point: 'latest', paths: [`/lvm/${vg}/root/etc`], target: { kind: 'local', path: out }, onClash: 'keep-both' },
          'test',
        ),
      );
      assert.equal(job.state, 'succeeded', job.error ?? '');
      const kernel = await withMount(rootImage, 'ro', (folder) => treeOfFolder(folder, '/etc'));
      assert.deepEqual(await treeOfFolder(out, '/etc'), kernel);
      // A volume itself is not an item; a path outside /diskN and /lvm is refused by the contract.
      const whole = await runJob(
        engine,
        await engine.files.startItemRestore(
          { vm: 'ubuntu', point: 'latest', paths: [`/lvm/${vg}/root`], target: { kind: 'local', path: out }, onClash: 'keep-both' },
          'test',
        ),
      );
      assert.equal(whole.state, 'failed');
      assert.match(whole.error ?? '', /pick items inside a volume/);
      await assert.rejects(
        dispatch(engine, asOwner(), 'files.restore', {
          vm: 'ubuntu',
          point: 'latest',
          paths: ['/volumes/x'],
          target: { kind: 'local', path: out },
        }),
        { code: 'bad-request' },
      );
    } finally {
      await engine.close();
    }
  },
);
