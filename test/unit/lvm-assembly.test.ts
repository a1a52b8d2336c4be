// LV assembly on synthetic PV bytes (no root needed): linear segments across PVs, a striped
// segment chunk by chunk as dm-stripe lays it out, the newest seqno winning over a stale copy,
// a missing PV and refused segment types named. The real-tool checks are in
// test/integration/lvm.test.ts; these keep the mapping covered where loop devices are not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { isReadFailure } from '../../electron/filesystems/file-system.ts';
import { SnapshotDisk } from '../../electron/filesystems/lvm/snapshot-disk.ts';
import { parseMetadataText } from '../../electron/filesystems/lvm/metadata-text.ts';
import { readVolumeGroup } from '../../electron/filesystems/lvm/volume-group.ts';
import { assembleVolumeGroups, type FoundPv } from '../../electron/filesystems/lvm/volume-groups.ts';

const EXTENT = 4096; // extent_size = 8 sectors
const PE_START = 8192; // pe_start = 16 sectors

/** A PV whose extent e is filled with the byte (tag + e), so every mapped byte names its source. */
function pvDisk(tag: number, extents: number): BytesDisk {
  const bytes = Buffer.alloc(PE_START + extents * EXTENT);
  for (let extent = 0; extent < extents; extent++) bytes.fill(tag + extent, PE_START + extent * EXTENT, PE_START + (extent + 1) * EXTENT);
  return new BytesDisk(bytes, `pv ${tag}`);
}

const UUIDS = ['aaaaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaaaa', 'bbbbbb-bbbb-bbbb-bbbb-bbbb-bbbb-bbbbbb'];

function metadata(seqno: number, lvs: string): string {
  const pv = (index: number) =>
    `pv${index} {\nid = "${UUIDS[index]}"\ndevice = "/dev/x"\nstatus = ["ALLOCATABLE"]\npe_start = 16\npe_count = 8\n}`;
  return `vg {\nid = "vvvvvv-vvvv-vvvv-vvvv-vvvv-vvvv-vvvvvv"\nseqno = ${seqno}\nextent_size = 8\nphysical_volumes {\n${pv(0)}\n${pv(1)}\n}\nlogical_volumes {\n${lvs}\n}\n}\n`;
}

const linear = `spread {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 2
segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 1] }
segment2 { start_extent = 2 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv1", 5] }
}`;
const striped = `fast {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 4 type = "striped" stripe_count = 2 stripe_size = 4 stripes = ["pv0", 4, "pv1", 0] }
}`;
const thin = `th {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 4 type = "thin" thin_pool = "pool" }
}
mirror0 {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 1 type = "raid1" }
}
hidden {
status = ["READ", "WRITE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
}`;

function found(path: string, disk: BytesDisk, uuid: string, text: string | null): FoundPv {
  return {
    path,
    disk,
    label: { uuid, deviceSize: disk.capacity, dataAreas: [], metadataAreas: [] },
    metadata: text === null ? null : readVolumeGroup(parseMetadataText(text)),
  };
}

test('linear segments across PVs and a striped segment map every byte where dm would read it', async () => {
  const [a, b] = [pvDisk(0x10, 8), pvDisk(0x40, 8)];
  const [group] = assembleVolumeGroups([
    found('/disk0/part2', a, UUIDS[0] as string, metadata(7, `${linear}\n${striped}\n${thin}`)),
    found('/disk1/part0', b, UUIDS[1] as string, metadata(6, linear)),
  ]);
  assert.ok(group);
  assert.deepEqual(group.notes, ['/disk1/part0 holds an older copy of the metadata (seqno 6, newest 7): ignored']);
  const byName = new Map(group.lvs.map((lv) => [lv.name, lv]));
  assert.deepEqual([...byName.keys()], ['spread', 'fast', 'th', 'mirror0'], 'hidden LVs are not listed');

  const spread = byName.get('spread')?.disk;
  assert.ok(spread);
  assert.equal(spread.capacity, 3 * EXTENT);
  const bytes = await spread.read(0, spread.capacity);
  assert.deepEqual([bytes[0], bytes[EXTENT], bytes[2 * EXTENT], bytes[3 * EXTENT - 1]], [0x11, 0x12, 0x45, 0x45]);
  assert.deepEqual([...(await spread.read(EXTENT - 2, 4))], [0x11, 0x11, 0x12, 0x12], 'a read across extents');
  assert.deepEqual([...(await spread.read(2 * EXTENT - 1, 2))], [0x12, 0x45], 'a read across segments and PVs');

  // Striped: 2 stripes of 2 KiB chunks; stripe 0 starts at pv0 extent 4, stripe 1 at pv1 extent 0.
  const fast = byName.get('fast');
  assert.equal(fast?.layout, 'striped, 2 stripes');
  assert.ok(fast?.disk);
  const chunk = 2048;
  const sources = [];
  for (let index = 0; index < 8; index++) sources.push((await fast.disk.read(index * chunk, 1))[0]);
  // chunk i: stripe i % 2, row i / 2; row r lies at r * 2 KiB of its stripe (two rows per 4 KiB extent).
  assert.deepEqual(sources, [0x14, 0x40, 0x14, 0x40, 0x15, 0x41, 0x15, 0x41]);

  assert.equal(byName.get('th')?.problem, 'thin volume: not read');
  assert.equal(byName.get('mirror0')?.problem, 'raid1 RAID volume: not read');
});

test('an LV needing a PV the VM lacks is listed with that problem; the others still read', async () => {
  const [group] = assembleVolumeGroups([found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, metadata(3, `${linear}\n${striped}`))]);
  assert.ok(group);
  assert.match(group.lvs[0]?.problem ?? '', /needs physical volume pv1 \(bbbbbb-.*\), which is not among the VM's disks/);
  assert.deepEqual(group.notes, [`physical volume pv1 (${UUIDS[1]}) is not among the VM's disks`]);
});

test('damaged segment layouts are refused by name', () => {
  const bad = (segment: string) => () =>
    readVolumeGroup(parseMetadataText(metadata(1, `x {\nstatus = ["VISIBLE"]\nsegment_count = 1\nsegment1 { ${segment} }\n}`)));
  assert.throws(
    bad('start_extent = 1 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 0]'),
    /starts at extent 1, not 0/,
  );
  assert.throws(
    bad('start_extent = 0 extent_count = 1 type = "striped" stripe_count = 2 stripe_size = 4 stripes = ["pv0", 0]'),
    /lists 1 stripes, not its stripe_count 2/,
  );
  assert.throws(
    bad('start_extent = 0 extent_count = 2 type = "striped" stripe_count = 2 stripe_size = 6 stripes = ["pv0", 0, "pv1", 0]'),
    /does not divide/,
  );
  assert.throws(
    bad('start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", -1]'),
    /not a physical volume and an extent/,
  );
});

test('a thick snapshot reads mapped chunks from its COW store, others from its origin; a damaged store fails clearly', async () => {
  const chunk = 1024;
  const origin = new BytesDisk(Buffer.alloc(8 * chunk, 0xaa), 'origin');
  const store = Buffer.alloc(16 * chunk);
  store.writeUInt32LE(0x70416e53, 0);
  store.writeUInt32LE(1, 4);
  store.writeUInt32LE(1, 8);
  store.writeUInt32LE(chunk / 512, 12);
  // area 0 at chunk 1: origin chunk 3 -> store chunk 2, origin chunk 6 -> store chunk 3
  store.writeBigUInt64LE(3n, chunk);
  store.writeBigUInt64LE(2n, chunk + 8);
  store.writeBigUInt64LE(6n, chunk + 16);
  store.writeBigUInt64LE(3n, chunk + 24);
  store.fill(0x33, 2 * chunk, 3 * chunk);
  store.fill(0x66, 3 * chunk, 4 * chunk);
  const snapshot = new SnapshotDisk(origin, new BytesDisk(store, 'cow'), 'snapshot s of o');
  assert.equal(snapshot.capacity, origin.capacity);
  const all = await snapshot.read(0, snapshot.capacity);
  assert.deepEqual(
    Array.from({ length: 8 }, (_, index) => all[index * chunk]),
    [0xaa, 0xaa, 0xaa, 0x33, 0xaa, 0xaa, 0x66, 0xaa],
  );
  assert.deepEqual([...(await snapshot.read(3 * chunk - 1, 2))], [0xaa, 0x33], 'a read across an origin and a store chunk');

  const invalid = Buffer.from(store);
  invalid.writeUInt32LE(0, 4);
  await assert.rejects(new SnapshotDisk(origin, new BytesDisk(invalid, 'cow'), 'snapshot s of o').read(0, 1), /marked invalid/);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat({ max: 2 * chunk - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }),
      async (changes) => {
        const damaged = Buffer.from(store);
        for (const [at, xor] of changes) damaged[at] = (damaged[at] as number) ^ xor;
        try {
          await new SnapshotDisk(origin, new BytesDisk(damaged, 'cow'), 'snapshot s of o').read(0, origin.capacity);
        } catch (error) {
          assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

/** A dm-snapshot store header (chunk size `chunk`) and the given { old, new } exceptions written
 * one after another from area 0 on, without checking them: the damaged tables below. */
function storeWith(chunk: number, chunks: number, exceptions: [number, number][]): BytesDisk {
  const store = Buffer.alloc(chunks * chunk);
  store.writeUInt32LE(0x70416e53, 0);
  store.writeUInt32LE(1, 4);
  store.writeUInt32LE(1, 8);
  store.writeUInt32LE(chunk / 512, 12);
  const perArea = chunk / 16;
  for (const [index, [old, fresh]] of exceptions.entries()) {
    const area = 1 + Math.floor(index / perArea) * (perArea + 1);
    store.writeBigUInt64LE(BigInt(old), area * chunk + (index % perArea) * 16);
    store.writeBigUInt64LE(BigInt(fresh), area * chunk + (index % perArea) * 16 + 8);
  }
  return new BytesDisk(store, 'cow');
}

test('a COW table out of the order dm-snapshot writes, repeating an origin chunk, or too long is refused before it is read whole', async () => {
  const chunk = 512; // 32 exceptions per area
  const origin = new BytesDisk(Buffer.alloc(64 * chunk, 0xaa), 'origin');
  const read = (store: BytesDisk, limit?: number) => new SnapshotDisk(origin, store, 'snapshot s of o', limit).read(0, chunk);
  // Old chunk 0 in every entry of every area: before, the map never grew and every area was read.
  const sameOld = Array.from({ length: 64 }, (_, index): [number, number] => [0, 2 + index + Math.floor(index / 32)]);
  await assert.rejects(read(storeWith(chunk, 80, sameOld)), /maps chunk 0 twice/);
  await assert.rejects(
    read(
      storeWith(chunk, 16, [
        [1, 3],
        [2, 2],
      ]),
    ),
    /out of the order dm-snapshot writes \(after 3\)/,
  );
  await assert.rejects(
    read(
      storeWith(chunk, 16, [
        [1, 2],
        [2, 2],
      ]),
    ),
    /out of the order/,
  );
  await assert.rejects(read(storeWith(chunk, 80, [[1, 34]])), /onto its own table at chunk 34/); // area 1 is at chunk 34
  const inOrder = Array.from({ length: 5 }, (_, index): [number, number] => [index, 2 + index]);
  assert.equal((await read(storeWith(chunk, 16, inOrder), 5)).length, chunk, 'a table of exactly the limit reads');
  await assert.rejects(read(storeWith(chunk, 16, inOrder), 4), /holds more than 4 exceptions/);
});

test('a thick snapshot as lvcreate -s writes it (snapshotN VISIBLE, the COW store hidden) lists the COW store as the snapshot, and no gap', () => {
  const snapshot = `origin {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 2 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }
}
snap {
status = ["READ", "WRITE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 4] }
}
snapshot0 {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 2 type = "snapshot" chunk_size = 8 origin = "origin" cow_store = "snap" }
}`;
  const [group] = assembleVolumeGroups([
    found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, metadata(1, snapshot)),
    found('/disk1/part0', pvDisk(0x40, 8), UUIDS[1] as string, null),
  ]);
  assert.deepEqual(
    group?.lvs.map((lv) => [lv.name, lv.layout, lv.problem, lv.disk !== null]),
    [
      ['origin', 'linear', null, true],
      ['snap', 'snapshot of origin', null, true],
    ],
  );
});

test('a PV uuid on two disks (a clone attached) is refused as LVM refuses it: a note, and the LVs using it listed as gaps', () => {
  const onPv1 = `other {
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv1", 7] }
}`;
  const text = metadata(4, `${linear}\n${onPv1}`);
  const [group] = assembleVolumeGroups([
    found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, text),
    found('/disk1/part0', pvDisk(0x40, 8), UUIDS[1] as string, text),
    found('/disk2/part2', pvDisk(0x70, 8), UUIDS[0] as string, text),
  ]);
  assert.ok(group);
  const spread = group.lvs.find((lv) => lv.name === 'spread');
  assert.ok(spread?.disk === null, 'neither copy is used');
  assert.match(
    spread?.problem ?? '',
    /needs physical volume pv0 \(aaaaaa-.*\), found on 2 disks \(\/disk0\/part2, \/disk2\/part2\).*not read/,
  );
  assert.deepEqual(group.notes, [
    `physical volume pv0 (${UUIDS[0]}) is found on 2 disks (/disk0/part2, /disk2/part2), as when a disk's clone is attached: the logical volumes using it are not read`,
  ]);
  const other = group.lvs.find((lv) => lv.name === 'other');
  assert.equal(other?.problem, null, 'an LV on the other PV still reads');
  assert.deepEqual(group.pvPaths.sort(), ['/disk0/part2', '/disk1/part0', '/disk2/part2']);
});

test('VG and LV names LVM would not accept never reach a path; they are listed as gaps with the name escaped', () => {
  const lvNamed = (name: string, type = '"striped" stripe_count = 1 stripes = ["pv0", 0]') =>
    `${name} {\nstatus = ["READ", "WRITE", "VISIBLE"]\nsegment_count = 1\nsegment1 { start_extent = 0 extent_count = 1 type = ${type} }\n}`;
  const badLvs = ['good', '../x', '..', '-dash', 'a:b', 'a/b', 'bell\x07', 'rtl\u202eevil', 'x'.repeat(128)];
  const text = (vg: string, lvs: string) => metadata(1, lvs).replace(/^vg \{/, `${vg} {`);
  const lvText = badLvs.map((name) => lvNamed(name)).join('\n');
  const [group] = assembleVolumeGroups([found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, text('vg', lvText))]);
  assert.ok(group);
  const names = group.lvs.map((lv) => lv.name);
  assert.deepEqual(names, ['good', ...badLvs.slice(1).map((_, index) => (index === 0 ? 'invalid-name' : `invalid-name-${index + 1}`))]);
  for (const lv of group.lvs.slice(1)) {
    assert.equal(lv.disk, null);
    assert.match(lv.problem ?? '', /^logical volume name ".*" is not a valid LVM2 name: not read$/);
    assert.doesNotMatch(lv.problem ?? '', /[\x00-\x1f\u202e]/, 'the problem is printable');
  }
  assert.ok(group.lvs.some((lv) => lv.problem?.includes('"bell\\x07"')));
  assert.ok(group.lvs.some((lv) => lv.problem?.includes('"rtl\\u202eevil"')));
  assert.ok(group.lvs.some((lv) => lv.problem?.includes('"../x"')));

  // VG "." with LV "../x" was /lvm/./../x; a VG named ".." likewise.
  const [dot, dotdot] = assembleVolumeGroups([
    found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, text('.', `${lvNamed('../x')}\n${lvNamed('fine')}`)),
    found('/disk1/part0', pvDisk(0x40, 8), UUIDS[1] as string, text('..', lvNamed('fine')).replace('vvvvvv-', 'wwwwww-')),
  ]);
  assert.deepEqual([dot?.name, dotdot?.name], ['invalid-name', 'invalid-name-2']);
  assert.deepEqual(
    dot?.lvs.map((lv) => [lv.name, lv.problem]),
    [
      ['invalid-name', 'logical volume name "../x" is not a valid LVM2 name: not read'],
      ['fine', `its volume group's name "." is not a valid LVM2 name: not read`],
    ],
  );
  assert.ok(dot?.notes.includes('volume group name "." is not a valid LVM2 name: its logical volumes are not read'));

  // A segment type with control characters reaches the problem escaped.
  const [typed] = assembleVolumeGroups([
    found('/disk0/part2', pvDisk(0x10, 8), UUIDS[0] as string, text('vg', lvNamed('odd', '"str\x1b[2J"'))),
  ]);
  assert.equal(typed?.lvs[0]?.problem, '"str\\x1b[2J" segment volume: not read');
});

test('VG names made unique by id stay unique when the renamed one collides with a real name', () => {
  const named = (vg: string, id: string) =>
    metadata(1, '')
      .replace(/^vg \{/, `${vg} {`)
      .replace('vvvvvv-vvvv-vvvv-vvvv-vvvv-vvvv-vvvvvv', id);
  const groups = assembleVolumeGroups([
    found('/disk0/part0', pvDisk(0x10, 8), 'u0', named('vg-abcdef', 'zzzzzz-0')),
    found('/disk1/part0', pvDisk(0x10, 8), 'u1', named('vg', 'abcdef-1')),
    found('/disk2/part0', pvDisk(0x10, 8), 'u2', named('vg', 'abcdef-2')),
    found('/disk3/part0', pvDisk(0x10, 8), 'u3', named('vg', 'abcdef-3')),
  ]);
  assert.deepEqual(
    groups.map((group) => group.name),
    ['vg-abcdef', 'vg', 'vg-abcdef-2', 'vg-abcdef-3'],
  );
});
