// Backup from vSphere of a VM with several disks: three disks of different sizes and contents on
// both simulator datastores, two of them with the same file name ([LocalDS_0] app/app.vmdk and
// [LocalDS_1] app/app.vmdk, the latter a monolithicSparse disk). Each transport's point restores
// every disk identical to the datastore file it came from, the manifest's disk names are unique,
// an incremental after a change to one disk stores only that disk's changed blocks, and the point
// restores to vSphere as a VM with the same disks on the same controller slots.
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { findVm } from '../../electron/drivers/vsphere/vm-config.ts';
import type { VmDisk } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import type { Manifest } from '../../electron/repository/manifest.ts';
import type { Job } from '../../shared/domain.ts';
import { asOwner } from '../helpers/owner.ts';
import { openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { editDisk, restoreIntoSimulator } from '../helpers/simulator-vm.ts';
import { startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const MIB = 1024 * 1024;
const VM = 'app';

/** The VM's disks as the test builds them: where each sits on the simulator, its size, its seed. */
const DISKS = [
  { datastore: 'LocalDS_0', path: 'app/app.vmdk', mib: 12, seed: 21 },
  { datastore: 'LocalDS_1', path: 'app/app.vmdk', mib: 20, seed: 22 },
  { datastore: 'LocalDS_0', path: 'app/app_2.vmdk', mib: 6, seed: 23 },
] as const;

function bySlot(disks: VmDisk[]): VmDisk[] {
  return [...disks].sort((a, b) => a.controllerBus - b.controllerBus || a.unitNumber - b.unitNumber);
}

/** The test's disk at a manifest key ("scsi0:<unit>"). */
function diskAt(key: string): { disk: (typeof DISKS)[number]; unit: number } {
  const unit = Number(/^scsi0:(\d)$/.exec(key)?.[1] ?? NaN);
  const disk = DISKS[unit];
  assert.ok(disk, `a disk of the VM at ${key}`);
  return { disk, unit };
}

async function vmDisksOf(engine: Engine, name: string): Promise<VmDisk[]> {
  const client = await engine.hosts.connect('vc');
  try {
    return await client.vmDisks(await findVm(client, name));
  } finally {
    await client.logout();
  }
}

/** A three-disk VM folder backed up locally and restored into the simulator as "app" on
 * LocalDS_0 (its disks app.vmdk, app_1.vmdk, app_2.vmdk); the second is then moved to LocalDS_1
 * as a monolithicSparse app/app.vmdk and the VM's disk relinked to it, as a storage migration
 * of one disk would leave it. */
async function setUp(dir: string, vc: Vcsim): Promise<Engine> {
  const engine = await openEngine(join(dir, 'home'));
  const source = join(dir, 'source');
  await mkdir(source);
  const files = ['a.vmdk', 'b.vmdk', 'c.vmdk'];
  for (const [index, disk] of DISKS.entries()) {
    const raw = join(dir, `source-${index}.raw`);
    await writeMixedRaw(raw, disk.mib, disk.seed);
    const subformat = index === 1 ? 'monolithicFlat' : 'monolithicSparse';
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, join(source, files[index] as string));
  }
  await writeFile(join(source, 'gamma.vmx'), vmxText('gamma', files, '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc 23'));
  await restoreIntoSimulator(engine, vc, { dir, name: VM, datastore: 'LocalDS_0', folder: source });

  const ds0 = join(vc.datastores.LocalDS_0 as string, VM);
  const ds1 = join(vc.datastores.LocalDS_1 as string, VM);
  await mkdir(ds1, { recursive: true });
  qemuImg('convert', '-f', 'vmdk', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', join(ds0, 'app_1.vmdk'), join(ds1, 'app.vmdk'));
  // vcsim (0.24) takes a disk it did not make only if a "-flat.vmdk" of its name exists, whatever
  // its descriptor says; ESXi reads the descriptor. An empty one no extent names satisfies it.
  await writeFile(join(ds1, 'app-flat.vmdk'), '');
  const moved = (await vmDisksOf(engine, VM)).find((disk) => disk.fileName === `[LocalDS_0] ${VM}/app_1.vmdk`);
  assert.ok(moved, 'the restored VM has app_1.vmdk');
  await relinkDisk(engine, moved, `[LocalDS_1] ${VM}/app.vmdk`);
  await rm(join(ds0, 'app_1.vmdk'));
  await rm(join(ds0, 'app_1-flat.vmdk'));
  // vcsim lists an edited device last: the order of the device list is not the order of the slots.
  assert.deepEqual(
    bySlot(await vmDisksOf(engine, VM)).map((disk) => [disk.fileName, disk.capacity, disk.unitNumber]),
    DISKS.map((disk, unit) => [`[${disk.datastore}] ${disk.path}`, disk.mib * MIB, unit]),
  );
  return engine;
}

/** Points a disk of the VM at `fileName` (vcsim then lists the edited disk last). */
async function relinkDisk(engine: Engine, disk: VmDisk, fileName: string): Promise<void> {
  const client = await engine.hosts.connect('vc');
  try {
    await editDisk(client, await findVm(client, VM), disk, { fileName, diskMode: 'persistent', thin: true });
  } finally {
    await client.logout();
  }
}

function datastoreFile(vc: Vcsim, disk: (typeof DISKS)[number]): string {
  return join(vc.datastores[disk.datastore] as string, disk.path);
}

/** Overwrites 64 KiB of a disk inside one 1 MiB block, as its guest would (through qemu-io, so a
 * sparse disk stays a valid sparse disk). */
function changeDisk(vc: Vcsim, disk: (typeof DISKS)[number], offset: number, generation: number): void {
  execFileSync('qemu-io', ['-f', 'vmdk', '-c', `write -P ${0x40 + generation} ${offset} 64k`, datastoreFile(vc, disk)], {
    stdio: 'ignore',
  });
}

function log(engine: Engine, job: Job): string {
  return engine.catalog
    .jobEvents(job.id)
    .map((event) => event.message)
    .join('\n');
}

/** Each disk of the VM as it is now on its datastore, as raw images (vcsim's snapshots freeze
 * nothing: the files read are these). */
async function atSnapshot(dir: string, vc: Vcsim, round: string): Promise<string[]> {
  return DISKS.map((disk, index) => {
    const raw = join(dir, `at-snapshot-${round}-${index}.raw`);
    qemuImg('convert', '-f', 'vmdk', '-O', 'raw', datastoreFile(vc, disk), raw);
    return raw;
  });
}

async function pointManifest(engine: Engine, pointId: string): Promise<Manifest> {
  const vm = engine.catalog.listVms().find((entry) => entry.name === VM);
  assert.ok(vm, 'the VM is in the catalog');
  const entry = (await engine.repository.scanPoints(vm.id)).find((point) => point.manifest?.id === pointId);
  assert.ok(entry?.manifest, `point ${pointId} is there and healthy (${entry?.damage})`);
  return entry.manifest;
}

/** Restores a point to a folder; each restored disk (by its manifest file name) compares
 * identical to the datastore file it was read from. */
async function restoresIdentical(engine: Engine, manifest: Manifest, target: string, expected: string[], what: string): Promise<void> {
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: VM, point: manifest.id, target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.equal(manifest.disks.length, DISKS.length, `${what}: every disk in the point`);
  for (const disk of manifest.disks) {
    const { disk: from, unit } = diskAt(disk.key);
    assert.match(
      qemuImg('compare', '-f', 'raw', '-F', 'vmdk', expected[unit] as string, join(target, disk.fileName)),
      /identical/,
      `${what}: ${disk.key} (${disk.fileName}) restored as [${from.datastore}] ${from.path} was`,
    );
  }
}

test(
  'vSphere backup of a VM with three disks on two datastores, two of the same name: every transport, incrementals, restore to vSphere',
  { skip: unavailable ?? false },
  async () => {
    const dir = await tempDir();
    const vc = await startVcsim();
    const engine = await setUp(dir, vc);
    const both = { LocalDS_0: vc.datastores.LocalDS_0 as string, LocalDS_1: vc.datastores.LocalDS_1 as string };

    type Round = { transport: 'nbd' | 'auto' | 'san' | 'hotadd'; changed: number | null; proxies: () => Promise<void> };
    const rounds: Round[] = [
      { transport: 'nbd', changed: null, proxies: async () => undefined },
      {
        transport: 'auto',
        changed: 0,
        // A proxy that sees only LocalDS_0's LUN: LocalDS_1's disk falls back to NBD.
        proxies: async () => {
          await dispatch(engine, asOwner(), 'proxies.add', {
            name: 'san-one',
            host: 'vc',
            transports: ['san'],
            datastorePaths: { LocalDS_0: both.LocalDS_0 },
          });
        },
      },
      {
        transport: 'san',
        changed: 1,
        proxies: async () => {
          // The first disk edited in place: the host now lists it last. Its manifest name stays.
          const first = bySlot(await vmDisksOf(engine, VM))[0] as VmDisk;
          await relinkDisk(engine, first, first.fileName);
          // Direct SAN asked for by name is not swapped for NBD where the proxy cannot see a datastore.
          const refused = await runJob(
            engine,
            await engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport: 'san', quiesce: false }, 'test'),
          );
          assert.equal(refused.state, 'failed');
          assert.match(refused.error ?? '', /Direct SAN cannot be used: .*proxy san-one cannot see datastore LocalDS_1/);
          assert.equal(refused.steps.find((step) => step.name === 'create-snapshot')?.state, 'pending', 'refused before any snapshot');
          await dispatch(engine, asOwner(), 'proxies.remove', { proxy: 'san-one' });
          await dispatch(engine, asOwner(), 'proxies.add', { name: 'san-both', host: 'vc', transports: ['san'], datastorePaths: both });
        },
      },
      {
        transport: 'hotadd',
        changed: 2,
        proxies: async () => {
          await dispatch(engine, asOwner(), 'proxies.add', {
            name: 'hot-both',
            host: 'vc',
            transports: ['hotadd'],
            proxyVm: 'DC0_H0_VM0',
            datastorePaths: both,
          });
        },
      },
    ];
    let last: Manifest | null = null;
    let lastExpected: string[] = [];
    for (const [generation, round] of rounds.entries()) {
      const { transport, changed } = round;
      await round.proxies();
      // 64 KiB inside one 1 MiB block of one disk.
      if (changed !== null) changeDisk(vc, DISKS[changed] as (typeof DISKS)[number], 3 * MIB + 4096, generation);
      const expected = await atSnapshot(dir, vc, transport);
      const job = await runJob(engine, await engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport, quiesce: false }, 'test'));
      assert.equal(job.state, 'succeeded', `${transport}: ${job.error ?? ''}`);
      const text = log(engine, job);
      const manifest = await pointManifest(engine, job.result?.pointId as string);
      const names = manifest.disks.map((disk) => disk.fileName.toLowerCase());
      assert.equal(new Set(names).size, names.length, `${transport}: unique disk file names ${names.join(', ')}`);
      // Each disk named as at every other point, whatever order the host lists them in…
      assert.deepEqual(
        manifest.disks.map((disk) => `${disk.key}=${disk.fileName}`).sort(),
        ['scsi0:0=app.vmdk', 'scsi0:1=app_1.vmdk', 'scsi0:2=app_2.vmdk'],
        `${transport}: disk names`,
      );
      // …and listed in device-key order (here the slot order).
      assert.deepEqual(
        manifest.disks.map((disk) => [disk.key, disk.fileName, disk.capacity]),
        DISKS.map((disk, unit) => [`scsi0:${unit}`, ['app.vmdk', 'app_1.vmdk', 'app_2.vmdk'][unit], disk.mib * MIB]),
      );
      // Only the changed disk's map holds a block: the one its 64 KiB were written into.
      if (last !== null)
        assert.deepEqual(
          manifest.disks.map((disk) => disk.mapEntries),
          DISKS.map((_disk, unit) => (unit === changed ? 1 : 0)),
          `${transport}: only disk ${String(changed)} changed`,
        );
      if (transport === 'auto') {
        assert.deepEqual([...(job.result?.transports as string[])].sort(), ['nbd', 'san']);
        assert.match(text, /transport for datastore LocalDS_0: Direct SAN through proxy san-one/);
        assert.match(text, /transport passed over — .*LocalDS_1/, 'the log says why LocalDS_1 is not read over SAN');
        assert.match(text, /transport for datastore LocalDS_1: network \(NBD\)/);
      } else {
        assert.deepEqual(job.result?.transports, [transport]);
      }
      if (transport === 'hotadd') {
        for (const disk of DISKS) assert.match(text, new RegExp(`\\[${disk.datastore}\\] ${disk.path} hot-added to proxy VM DC0_H0_VM0`));
      }
      if (last === null) {
        assert.equal(job.result?.kind, 'full');
      } else {
        assert.equal(job.result?.kind, 'incremental');
        assert.ok((job.result?.storedBytes as number) <= MIB, `${transport}: stored ${String(job.result?.storedBytes)} bytes`);
        assert.ok((job.result?.changedBytes as number) <= MIB, `${transport}: changed ${String(job.result?.changedBytes)} bytes`);
      }
      await restoresIdentical(engine, manifest, join(dir, `restored-${transport}`), expected, transport);
      last = manifest;
      lastExpected = expected;
    }

    // The last point restored to vSphere as a new VM: three disks, their capacities, the same slots.
    const restore = await runJob(
      engine,
      await engine.restores.start(
        { vm: VM, point: 'latest', newName: 'app-copy', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1' } },
        'test',
      ),
    );
    assert.equal(restore.state, 'succeeded', restore.error ?? '');
    const original = bySlot(await vmDisksOf(engine, VM));
    const copy = bySlot(await vmDisksOf(engine, 'app-copy'));
    assert.deepEqual(
      copy.map((disk) => [disk.controllerBus, disk.unitNumber, disk.capacity]),
      original.map((disk) => [disk.controllerBus, disk.unitNumber, disk.capacity]),
    );
    assert.equal(new Set(copy.map((disk) => disk.fileName)).size, 3, 'three distinct disk files');
    for (const disk of copy) {
      const file = /^\[LocalDS_1\] (.+)$/.exec(disk.fileName)?.[1];
      assert.ok(file, `${disk.fileName} is on LocalDS_1`);
      const onDatastore = join(vc.datastores.LocalDS_1 as string, file);
      assert.match(
        qemuImg('compare', '-f', 'raw', '-F', 'vmdk', lastExpected[disk.unitNumber] as string, onDatastore),
        /identical/,
        `the copy's disk at unit ${disk.unitNumber} holds what the original's did`,
      );
    }
  },
);
