// A VM whose .vmx names a snapshot delta is backed up as the VM sees it: the leaf read through
// every parent. Chains are made by qemu-img and written by qemu-io (ESXi's COWD delta by the
// helper); qemu, reading the leaf through its parents, judges every restore. Broken chains
// (missing parent, loops, CID mismatch, formats Lifeboat cannot read) are one clear error each
// and leave the repository and the catalog as they were.
import assert from 'node:assert/strict';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openDisk } from '../../electron/disks/vmdk-chain.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import type { Manifest } from '../../electron/repository/manifest.ts';
import { openEngine, qemuImg, runJob, tempDir } from '../helpers/env.ts';
import {
  baseVm,
  cidOf,
  editDescriptor,
  moveHeaderToFooter,
  qemuIo,
  setDescriptorKey,
  snapshot,
  type Subformat,
  writeCowdDelta,
  writeSeSparseDelta,
} from '../helpers/vmdk-chain.ts';

const MIB = 1024 * 1024;
const UUID = '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc 01';

async function nameLeaf(folder: string, leaf: string): Promise<void> {
  await writeFile(join(folder, 'web.vmx'), vmxText('web', [leaf], UUID));
}

async function backUp(engine: Engine, folder: string): Promise<Manifest> {
  const job = await runJob(engine, await engine.backups.start(folder, 'test'));
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const points = await engine.repository.listPoints(engine.lookup.resolveVm('web').id);
  return points.at(-1) as Manifest;
}

/** Restores a point and returns the restored disk (a flat VMDK) of the leaf's name. */
async function restore(engine: Engine, point: number, target: string, leaf: string): Promise<string> {
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: 'web', point: String(point), target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  return join(target, leaf);
}

function sameAs(restored: string, expected: string, expectedFormat = 'vmdk'): void {
  assert.match(qemuImg('compare', '-f', 'vmdk', '-F', expectedFormat, restored, expected), /identical/);
}

function differs(restored: string, other: string): void {
  assert.throws(() => qemuImg('compare', '-q', '-f', 'vmdk', '-F', 'vmdk', restored, other), 'the restore is not that file alone');
}

test('a .vmx naming web-000001.vmdk backs up the VM current state (the delta over its base), not the delta alone', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'monolithicSparse');
  snapshot(folder, 'web.vmdk', 'web-000001.vmdk', 'monolithicSparse');
  // Data over data, zeros written two ways over the base's data, and a write that is not
  // grain-aligned (qemu copies the rest of the grain from the parent first).
  qemuIo(
    join(folder, 'web-000001.vmdk'),
    'write -P 0x5a 1052672 307200',
    'write -z 3145728 1048576',
    'write -P 0 5242980 65536',
    'write -P 0xc3 8322048 66560',
  );
  await nameLeaf(folder, 'web-000001.vmdk');
  const manifest = await backUp(engine, folder);
  const restored = await restore(engine, 1, join(dir, 'restored'), 'web-000001.vmdk');
  sameAs(restored, join(folder, 'web-000001.vmdk'));
  differs(restored, join(folder, 'web.vmdk'));
  const [leaf, base] = manifest.disks[0]?.sourceChain ?? [];
  assert.deepEqual(
    [leaf?.fileName, leaf?.createType, base?.fileName, base?.parentCid],
    ['web-000001.vmdk', 'monolithicSparse', 'web.vmdk', 'ffffffff'],
  );
  assert.equal(leaf?.parentCid, base?.cid, 'the point records which parent (by CID) was read');
  assert.equal(manifest.disks[0]?.sourceFormat, 'vmdk-sparse');
});

test('three levels of mixed subformats over a flat base, then a new snapshot between backups: every point restores as qemu reads it', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'monolithicFlat');
  snapshot(folder, 'web.vmdk', 'web-000001.vmdk', 'twoGbMaxExtentSparse');
  qemuIo(join(folder, 'web-000001.vmdk'), 'write -P 0x11 0 2097152', 'write -z 6291456 524288');
  // compat6 gives zeroed-grain entries: zeros recorded without data, still hiding the parent.
  snapshot(folder, 'web-000001.vmdk', 'web-000002.vmdk', 'monolithicSparse', ',compat6=on');
  qemuIo(
    join(folder, 'web-000002.vmdk'),
    'write -P 0x22 1048576 4096',
    'write -z 0 65536',
    'write -z 2097152 2097152',
    'write -P 0x23 7340032 1048576',
  );
  await nameLeaf(folder, 'web-000002.vmdk');
  const first = await backUp(engine, folder);
  assert.deepEqual(
    first.disks[0]?.sourceChain?.map((link) => `${link.fileName}:${link.format}`),
    ['web-000002.vmdk:vmdk-sparse', 'web-000001.vmdk:vmdk-descriptor', 'web.vmdk:vmdk-descriptor'],
  );

  snapshot(folder, 'web-000002.vmdk', 'web-000003.vmdk', 'monolithicSparse');
  qemuIo(join(folder, 'web-000003.vmdk'), 'write -P 0x33 4194304 131072', 'write -z 7340032 65536');
  await nameLeaf(folder, 'web-000003.vmdk');
  const second = await backUp(engine, folder);
  assert.equal(second.kind, 'incremental');
  assert.equal(second.disks[0]?.sourceChain?.length, 4);
  assert.ok(second.stats.changedBytes < 8 * MIB, 'only what the new snapshot changed is new');

  // web-000002 is frozen under the new snapshot: it is still what point 1 saw.
  sameAs(await restore(engine, 1, join(dir, 'point-1'), 'web-000002.vmdk'), join(folder, 'web-000002.vmdk'));
  sameAs(await restore(engine, 2, join(dir, 'point-2'), 'web-000003.vmdk'), join(folder, 'web-000003.vmdk'));
});

test('ESXi vmfsSparse (COWD) deltas over a vmfs flat base, two levels and two grain sizes, restore as qemu reads them', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'monolithicFlat');
  // The base as ESXi writes it: createType vmfs, a VMFS extent without an offset.
  await editDescriptor(join(folder, 'web.vmdk'), (text) =>
    text.replace('createType="monolithicFlat"', 'createType="vmfs"').replace(/ FLAT ("[^"]+") 0$/m, ' VMFS $1'),
  );
  const pattern = (byte: number, length: number): Buffer => Buffer.alloc(length, byte);
  await writeCowdDelta(folder, 'web-000001', {
    capacity: 8 * MIB,
    parentHint: 'web.vmdk',
    parentCid: await cidOf(join(folder, 'web.vmdk')),
    writes: [
      { offset: 512, data: pattern(0x41, 1536) },
      { offset: 3 * MIB, data: pattern(0, 8192) },
      { offset: 8 * MIB - 512, data: pattern(0x42, 512) },
    ],
  });
  await writeCowdDelta(folder, 'web-000002', {
    capacity: 8 * MIB,
    parentHint: 'web-000001.vmdk',
    parentCid: await cidOf(join(folder, 'web-000001.vmdk')),
    grainSectors: 8,
    writes: [
      { offset: 0, data: pattern(0x51, 4096) },
      { offset: 5 * MIB + 4096, data: pattern(0, 4096) },
    ],
  });
  await nameLeaf(folder, 'web-000002.vmdk');
  const manifest = await backUp(engine, folder);
  assert.deepEqual(
    manifest.disks[0]?.sourceChain?.map((link) => link.createType),
    ['vmfsSparse', 'vmfsSparse', 'vmfs'],
  );
  const restored = await restore(engine, 1, join(dir, 'restored'), 'web-000002.vmdk');
  sameAs(restored, join(folder, 'web-000002.vmdk'));
  differs(restored, join(folder, 'web.vmdk'));
});

test('ESXi seSparse deltas (VMFS6) over a vmfs flat base, two levels with zeroed and unmapped grains, restore as qemu reads them', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'monolithicFlat', 24);
  await editDescriptor(join(folder, 'web.vmdk'), (text) =>
    text.replace('createType="monolithicFlat"', 'createType="vmfs"').replace(/ FLAT ("[^"]+") 0$/m, ' VMFS $1'),
  );
  // 17 MiB of distinct 4 KiB grains: more than 4096 of them, so grain numbers wrap the format's rotation.
  const many = Buffer.alloc(17 * MIB);
  for (let at = 0; at < many.length; at += 4096) many.fill((at / 4096) % 251, at, at + 4096);
  await writeSeSparseDelta(folder, 'web-000001', {
    capacity: 24 * MIB,
    parentHint: 'web.vmdk',
    parentCid: await cidOf(join(folder, 'web.vmdk')),
    writes: [
      { offset: 4096, data: Buffer.alloc(8192, 0x77) },
      { offset: 5 * MIB, data: many },
    ],
    zeroed: [2 * MIB, 3 * MIB + 4096],
  });
  await writeSeSparseDelta(folder, 'web-000002', {
    capacity: 24 * MIB,
    parentHint: 'web-000001.vmdk',
    parentCid: await cidOf(join(folder, 'web-000001.vmdk')),
    writes: [
      { offset: 0, data: Buffer.alloc(4096, 0x78) },
      { offset: 23 * MIB, data: Buffer.alloc(MIB, 0x79) },
    ],
    zeroed: [6 * MIB],
    unmapped: [7 * MIB, 7 * MIB + 4096],
  });
  await nameLeaf(folder, 'web-000002.vmdk');
  const manifest = await backUp(engine, folder);
  assert.deepEqual(
    manifest.disks[0]?.sourceChain?.map((link) => link.createType),
    ['seSparse', 'seSparse', 'vmfs'],
  );
  const restored = await restore(engine, 1, join(dir, 'restored'), 'web-000002.vmdk');
  sameAs(restored, join(folder, 'web-000002.vmdk'));
  differs(restored, join(folder, 'web.vmdk'));
});

test('streamOptimized links: a compressed delta over a base whose header is in its footer (as VMware exports it)', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'streamOptimized');
  await moveHeaderToFooter(join(folder, 'web.vmdk'));
  snapshot(folder, 'web.vmdk', 'web-000001.vmdk', 'streamOptimized');
  // qemu writes a compressed image in whole grains only.
  qemuIo(
    join(folder, 'web-000001.vmdk'),
    'write -P 0x81 65536 196608',
    'write -z 1048576 131072',
    'write -P 0 3145728 65536',
    'write -P 0x82 8323072 65536',
  );
  snapshot(folder, 'web-000001.vmdk', 'web-000002.vmdk', 'monolithicSparse');
  qemuIo(join(folder, 'web-000002.vmdk'), 'write -P 0x83 4194304 65536');
  await nameLeaf(folder, 'web-000002.vmdk');
  const manifest = await backUp(engine, folder);
  assert.deepEqual(
    manifest.disks[0]?.sourceChain?.map((link) => link.createType),
    ['monolithicSparse', 'streamOptimized', 'streamOptimized'],
  );
  const restored = await restore(engine, 1, join(dir, 'restored'), 'web-000002.vmdk');
  sameAs(restored, join(folder, 'web-000002.vmdk'));
  differs(restored, join(folder, 'web.vmdk'));
});

test('absolute and Windows parent hints find the parent by name in the VM folder; a smaller parent reads as zeros past its end', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const folder = await baseVm(dir, 'web', 'monolithicSparse');
  // The child is larger than its parent, which qemu allows (the disk grew after the snapshot).
  qemuImg('create', '-f', 'vmdk', '-b', 'web.vmdk', '-F', 'vmdk', join(folder, 'web-000001.vmdk'), '12M');
  qemuIo(join(folder, 'web-000001.vmdk'), 'write -P 0x61 1048576 65536', 'write -P 0x62 9437184 65536');
  snapshot(folder, 'web-000001.vmdk', 'web-000002.vmdk', 'twoGbMaxExtentSparse');
  qemuIo(join(folder, 'web-000002.vmdk'), 'write -P 0x63 2097152 65536');
  const expected = join(dir, 'expected.raw');
  qemuImg('convert', '-f', 'vmdk', '-O', 'raw', join(folder, 'web-000002.vmdk'), expected);
  await editDescriptor(
    join(folder, 'web-000001.vmdk'),
    setDescriptorKey('parentFileNameHint', '"/vmfs/volumes/5f1e-datastore1/web/web.vmdk"'),
  );
  await editDescriptor(
    join(folder, 'web-000002.vmdk'),
    setDescriptorKey('parentFileNameHint', '"C:\\Users\\ops\\Documents\\Virtual Machines\\web\\web-000001.vmdk"'),
  );
  await nameLeaf(folder, 'web-000002.vmdk');
  const manifest = await backUp(engine, folder);
  assert.equal(manifest.disks[0]?.capacity, 12 * MIB);
  assert.deepEqual(
    manifest.disks[0]?.sourceChain?.map((link) => link.capacity),
    [12 * MIB, 12 * MIB, 8 * MIB],
  );
  sameAs(await restore(engine, 1, join(dir, 'restored'), 'web-000002.vmdk'), expected, 'raw');
});

test('a delta split into 2 GiB extents shows its parent on both sides of the extent boundary, as qemu reads it', async () => {
  const dir = await tempDir();
  const gib2 = 2 * 1024 * MIB;
  const kib = 1024;
  qemuImg('create', '-q', '-f', 'vmdk', join(dir, 'big.vmdk'), '3G');
  qemuIo(join(dir, 'big.vmdk'), `write -P 0x91 ${gib2 - 128 * kib} ${256 * kib}`);
  snapshot(dir, 'big.vmdk', 'big-000001.vmdk', 'twoGbMaxExtentSparse');
  qemuIo(join(dir, 'big-000001.vmdk'), `write -P 0x92 ${gib2 - 64 * kib} ${64 * kib}`, `write -z ${gib2 + 128 * kib} ${64 * kib}`);
  const expected = Buffer.concat([
    Buffer.alloc(64 * kib, 0x91),
    Buffer.alloc(64 * kib, 0x92),
    Buffer.alloc(128 * kib, 0x91),
    Buffer.alloc(64 * kib, 0),
  ]);
  // qemu agrees with what we expect...
  qemuIo(
    join(dir, 'big-000001.vmdk'),
    `read -P 0x91 ${gib2 - 128 * kib} ${64 * kib}`,
    `read -P 0x92 ${gib2 - 64 * kib} ${64 * kib}`,
    `read -P 0x91 ${gib2} ${128 * kib}`,
    `read -P 0 ${gib2 + 128 * kib} ${64 * kib}`,
  );
  // ...and so does the chain reader.
  const disk = await openDisk(join(dir, 'big-000001.vmdk'));
  try {
    assert.equal(disk.capacity, 3 * 1024 * MIB);
    assert.ok((await disk.read(gib2 - 128 * kib, expected.length)).equals(expected));
  } finally {
    await disk.close();
  }
});

/** Every file under the repository, with its size: what a refused backup must leave as it was. */
async function repositoryTree(engine: Engine): Promise<string[]> {
  const entries = await readdir(engine.repository.path, { recursive: true, withFileTypes: true });
  return entries.map((entry) => join(entry.parentPath, entry.name)).sort();
}

test('broken or unreadable chains are one clear error each, and nothing is stored', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  let made = 0;
  /** A fresh two-link chain (web-000001 over web) for one hostile edit. */
  const chain = async (subformat: Subformat = 'twoGbMaxExtentSparse'): Promise<string> => {
    const folder = await baseVm(dir, `case-${++made}`, 'monolithicSparse', 2);
    snapshot(folder, 'web.vmdk', 'web-000001.vmdk', subformat);
    await nameLeaf(folder, 'web-000001.vmdk');
    return folder;
  };
  const cases: { name: string; make: () => Promise<string>; error: RegExp }[] = [
    {
      name: 'missing parent',
      make: async () => {
        const folder = await chain();
        await rm(join(folder, 'web.vmdk'));
        return folder;
      },
      error: /web-000001\.vmdk: its parent disk "web\.vmdk" is missing \(looked at .*case-\d+\/web\.vmdk\); the snapshot chain is broken/,
    },
    {
      name: 'a delta naming itself',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"web-000001.vmdk"'));
        return folder;
      },
      error: /the snapshot chain loops \(web-000001\.vmdk → web-000001\.vmdk\)/,
    },
    {
      name: 'a delta naming a later child (a monolithicSparse with its descriptor inside)',
      make: async () => {
        const folder = await chain('monolithicSparse');
        snapshot(folder, 'web-000001.vmdk', 'web-000002.vmdk', 'twoGbMaxExtentSparse');
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"web-000002.vmdk"'));
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentCID', await cidOf(join(folder, 'web-000002.vmdk'))));
        await nameLeaf(folder, 'web-000002.vmdk');
        return folder;
      },
      error: /the snapshot chain loops \(web-000002\.vmdk → web-000001\.vmdk → web-000002\.vmdk\)/,
    },
    {
      name: 'a delta naming another name (a hard link) of itself',
      make: async () => {
        const folder = await chain();
        await link(join(folder, 'web-000001.vmdk'), join(folder, 'alias.vmdk'));
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"alias.vmdk"'));
        return folder;
      },
      error: /the snapshot chain loops \(web-000001\.vmdk → alias\.vmdk\)/,
    },
    {
      name: 'CID mismatch',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentCID', '0badc1d0'));
        return folder;
      },
      error:
        /CID mismatch: web-000001\.vmdk expects its parent web\.vmdk to have CID 0badc1d0, it has [0-9a-f]{8} \(the parent changed after the snapshot was taken\)/,
    },
    {
      name: 'a parent outside the VM folder',
      make: async () => {
        const folder = await chain();
        await mkdir(join(dir, 'elsewhere'), { recursive: true });
        await copyFile(join(folder, 'web.vmdk'), join(dir, 'elsewhere', 'web.vmdk'));
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"../elsewhere/web.vmdk"'));
        return folder;
      },
      error: /its parent disk "\.\.\/elsewhere\/web\.vmdk" is .*elsewhere\/web\.vmdk, outside the VM folder/,
    },
    {
      name: 'a parent that is a symbolic link out of the VM folder',
      make: async () => {
        const folder = await chain();
        await mkdir(join(dir, 'outside'), { recursive: true });
        await rename(join(folder, 'web.vmdk'), join(dir, 'outside', `web-${made}.vmdk`));
        await symlink(join(dir, 'outside', `web-${made}.vmdk`), join(folder, 'web.vmdk'));
        return folder;
      },
      error: /its parent disk "web\.vmdk" is .*outside\/web-\d+\.vmdk, outside the VM folder/,
    },
    {
      name: 'a parent that is a symbolic link loop',
      make: async () => {
        const folder = await chain();
        await rm(join(folder, 'web.vmdk'));
        await symlink('web.vmdk', join(folder, 'web.vmdk'));
        return folder;
      },
      error: /its parent disk "web\.vmdk" cannot be opened \(ELOOP\)/,
    },
    {
      name: 'a .vmx naming a disk that is a symbolic link loop',
      make: async () => {
        const folder = await chain();
        await symlink('loop.vmdk', join(folder, 'loop.vmdk'));
        await nameLeaf(folder, 'loop.vmdk');
        return folder;
      },
      error: /disk file .*loop\.vmdk cannot be opened \(ELOOP\)/,
    },
    {
      name: 'a parent that is not a VMDK',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"web.vmx"'));
        return folder;
      },
      error: /web-000001\.vmdk names web\.vmx as its parent, but that file is not a VMDK with a content id \(it is raw\)/,
    },
    {
      name: 'a delta without a parent hint',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), (text) => text.replace(/^parentFileNameHint=.*$/m, ''));
        return folder;
      },
      error: /it is a snapshot delta \(parentCID [0-9a-f]{8}\) that names no parentFileNameHint/,
    },
    {
      name: 'an seSparse delta whose journal needs replaying',
      make: async () => {
        const folder = await chain();
        const cid = await cidOf(join(folder, 'web.vmdk'));
        await rm(join(folder, 'web-000001.vmdk'));
        await writeSeSparseDelta(folder, 'web-000001', {
          capacity: 2 * MIB,
          parentHint: 'web.vmdk',
          parentCid: cid,
          writes: [{ offset: 0, data: Buffer.alloc(4096, 1) }],
        });
        const extent = await readFile(join(folder, 'web-000001-sesparse.vmdk'));
        extent.writeBigUInt64LE(1n, 512 + 24); // the volatile header's replayJournal
        await writeFile(join(folder, 'web-000001-sesparse.vmdk'), extent);
        return folder;
      },
      error: /seSparse journal needs replaying \(the delta was not closed cleanly\)/,
    },
    {
      name: 'a bare seSparse extent named by the .vmx',
      make: async () => {
        const folder = await chain();
        await writeSeSparseDelta(folder, 'web-000002', {
          capacity: 2 * MIB,
          parentHint: 'web-000001.vmdk',
          parentCid: await cidOf(join(folder, 'web-000001.vmdk')),
          writes: [],
        });
        await nameLeaf(folder, 'web-000002-sesparse.vmdk');
        return folder;
      },
      error: /web-000002-sesparse\.vmdk is a bare seSparse extent; name the descriptor \.vmdk that lists it/,
    },
    {
      name: 'a bare COWD extent named by the .vmx',
      make: async () => {
        const folder = await chain();
        await writeCowdDelta(folder, 'web-000002', {
          capacity: 2 * MIB,
          parentHint: 'web-000001.vmdk',
          parentCid: await cidOf(join(folder, 'web-000001.vmdk')),
          writes: [],
        });
        await nameLeaf(folder, 'web-000002-delta.vmdk');
        return folder;
      },
      error: /web-000002-delta\.vmdk is a bare VMFS sparse \(COWD\) extent; name the descriptor \.vmdk that lists it/,
    },
    {
      name: 'an unknown createType',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), (text) =>
          text.replace('createType="twoGbMaxExtentSparse"', 'createType="vmfsSparseV2"'),
        );
        return folder;
      },
      error: /createType "vmfsSparseV2" is not a VMDK type Lifeboat knows/,
    },
    {
      name: 'an unknown extent type in a delta',
      make: async () => {
        const folder = await chain();
        await editDescriptor(join(folder, 'web-000001.vmdk'), (text) => text.replace(' SPARSE ', ' VMFSRDM '));
        return folder;
      },
      error: /extent type VMFSRDM is not supported/,
    },
    {
      name: 'a chain longer than 64 links',
      make: async () => {
        const folder = await chain();
        for (let level = 2; level <= 65; level++) {
          const name = (n: number): string => `web-${String(n).padStart(6, '0')}.vmdk`;
          snapshot(folder, name(level - 1), name(level), 'monolithicSparse');
        }
        await nameLeaf(folder, 'web-000065.vmdk');
        return folder;
      },
      error: /the snapshot chain is longer than 64 links/,
    },
  ];
  const treeBefore = await repositoryTree(engine);
  const vmsBefore = engine.catalog.listVms();
  for (const { name, make, error } of cases) {
    const folder = await make();
    const job = await runJob(engine, await engine.backups.start(folder, 'test'));
    assert.equal(job.state, 'failed', `${name}: the backup must fail`);
    assert.match(job.error ?? '', error, name);
    assert.deepEqual(await repositoryTree(engine), treeBefore, `${name}: nothing stored in the repository`);
    assert.deepEqual(engine.catalog.listVms(), vmsBefore, `${name}: nothing in the catalog's inventory`);
  }
});

test('damaged chain metadata (headers, footers, descriptors, grain tables, compressed grains, COWD and seSparse extents) reads or fails with our own error', async () => {
  const dir = await tempDir();
  const folder = await baseVm(dir, 'web', 'streamOptimized', 2);
  await moveHeaderToFooter(join(folder, 'web.vmdk'));
  snapshot(folder, 'web.vmdk', 'web-000001.vmdk', 'streamOptimized');
  qemuIo(join(folder, 'web-000001.vmdk'), 'write -P 0x71 65536 131072');
  await writeCowdDelta(folder, 'web-000002', {
    capacity: 2 * MIB,
    parentHint: 'web-000001.vmdk',
    parentCid: await cidOf(join(folder, 'web-000001.vmdk')),
    writes: [{ offset: 4096, data: Buffer.alloc(8192, 0x72) }],
  });
  await writeSeSparseDelta(folder, 'web-000003', {
    capacity: 2 * MIB,
    parentHint: 'web-000002.vmdk',
    parentCid: await cidOf(join(folder, 'web-000002.vmdk')),
    writes: [{ offset: 8192, data: Buffer.alloc(8192, 0x73) }],
    zeroed: [65536],
    unmapped: [69632],
  });
  const pristine = new Map<string, Buffer>();
  for (const file of [
    'web.vmdk',
    'web-000001.vmdk',
    'web-000002-delta.vmdk',
    'web-000002.vmdk',
    'web-000003-sesparse.vmdk',
    'web-000003.vmdk',
  ])
    pristine.set(file, await readFile(join(folder, file)));
  // Header, embedded descriptor, grain directory, tables and the first grains; and the footer.
  const headBytes = 64 * 1024;
  const tailBytes = 1536;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...pristine.keys()),
      fc.array(fc.tuple(fc.nat(headBytes + tailBytes - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat(2 * MIB - 65536),
      async (file, edits, offset) => {
        const bytes = Buffer.from(pristine.get(file) as Buffer);
        for (const [at, xor] of edits) {
          const position = at < headBytes ? at : bytes.length - 1 - (at - headBytes);
          if (position >= 0 && position < bytes.length) bytes[position] = (bytes[position] as number) ^ xor;
        }
        await writeFile(join(folder, file), bytes);
        try {
          const disk = await openDisk(join(folder, 'web-000003.vmdk'));
          try {
            if (offset + 65536 <= disk.capacity) await disk.read(offset, 65536);
          } finally {
            await disk.close();
          }
        } catch (error) {
          assert.ok(error instanceof LifeboatError || error instanceof RangeError, `unexpected ${(error as Error).message}`);
        } finally {
          await writeFile(join(folder, file), pristine.get(file) as Buffer);
        }
      },
    ),
    { numRuns: 120 },
  );
});
