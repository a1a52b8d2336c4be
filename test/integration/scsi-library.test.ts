// The SCSI tape library against a real changer: tgt's SMC changer and SSC drives over our iSCSI
// initiator. The inventory must agree with how tgt was configured; loads, unloads, exports and
// imports must move the cartridges where tgt itself (tgtadm's view of each drive) says they are;
// and what cannot be done says why.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openScsiLibrary } from '../../electron/drivers/scsi/scsi-library.ts';
import type { TgtTapePlace, TgtTapeSpec } from '../../scripts/peers/tgt.ts';
import { rejectsWith, tgtSkip, useTgtScsiLibrary } from '../helpers/tgt-scsi-library.ts';

const skip = tgtSkip;
const TIMEOUT = { timeout: 60_000 };

// Two tapes in the first slots, one in the last slot, one waiting in the first mail slot.
const placed = (barcode: string, place?: TgtTapePlace): TgtTapeSpec => ({ barcode, sizeMiB: 2, ...(place ? { place } : {}) });
const lab = useTgtScsiLibrary(
  {
    drives: 2,
    slots: 4,
    mailslots: 2,
    tapes: [
      placed('LIB001L9'),
      placed('LIB002L9'),
      placed('LIB003L9', { kind: 'slot', index: 3 }),
      placed('MAIL01L9', { kind: 'mailslot', index: 0 }),
    ],
  },
  { name: 'tgt library', blockSize: 64 * 1024 },
);

/** What tgt itself says each drive LUN holds: the image it has open, or null when offline. */
async function tgtDrives(): Promise<Map<number, string | null>> {
  const shown = await lab.tgt.admin(['--op', 'show', '--mode', 'target']);
  const drives = new Map<number, string | null>();
  for (const block of shown.split(/\n\s*LUN: /).slice(1)) {
    const lun = Number(block.split('\n')[0]);
    if (!/Type: tape/.test(block)) continue;
    const online = /Online: Yes/.test(block);
    const path = /Backing store path: (.*)/.exec(block)?.[1]?.trim() ?? null;
    drives.set(lun, online && path ? (path.split('/').at(-1) ?? null) : null);
  }
  return drives;
}

test('the changer and both drives are found, each drive on its data-transfer element', { skip, ...TIMEOUT }, () => {
  const described = lab.library.describe();
  assert.equal(described.changer.product.trim(), 'VIRTUAL-CHANGER');
  assert.deepEqual(
    described.drives.map((drive) => drive.element),
    lab.tgt.elements.drives,
  );
  assert.deepEqual(
    described.drives.map((drive) => drive.address.split('/').at(-1)),
    lab.tgt.luns.drives.map(String),
  );
  assert.ok(described.drives.every((drive) => drive.product.trim() === 'VIRTUAL-TAPE' && drive.serial));
  assert.ok(['identifier', 'address-order'].includes(described.mapping));
});

test('the inventory agrees with the configuration of tgt', { skip, ...TIMEOUT }, async () => {
  const inventory = await lab.library.inventory();
  assert.equal(inventory.name, 'tgt library');
  assert.deepEqual(inventory.slots, ['LIB001L9', 'LIB002L9', null, 'LIB003L9']);
  assert.deepEqual(inventory.mailslots, ['MAIL01L9', null]);
  assert.deepEqual(inventory.drives, [
    { index: 0, barcode: null, owner: null },
    { index: 1, barcode: null, owner: null },
  ]);
  assert.deepEqual(
    inventory.cartridges.map((cartridge) => [cartridge.barcode, cartridge.location]),
    [
      ['LIB001L9', { kind: 'slot', index: 0 }],
      ['LIB002L9', { kind: 'slot', index: 1 }],
      ['LIB003L9', { kind: 'slot', index: 3 }],
      ['MAIL01L9', { kind: 'mailslot', index: 0 }],
    ],
  );
  assert.equal(inventory.blockSize, 64 * 1024);
  assert.equal(inventory.model.name, 'VIRTUAL-TAPE');
  assert.equal(inventory.timeScale, 1);
});

test('load puts the tape in a free drive as tgt sees it, and unload puts it back in its slot', { skip, ...TIMEOUT }, async () => {
  const first = await lab.library.load('LIB002L9', 'test job A');
  const second = await lab.library.load('LIB003L9', 'test job B');
  try {
    assert.deepEqual([first.index, second.index, first.barcode], [0, 1, 'LIB002L9']);
    assert.deepEqual(first.position(), { file: 0, block: 0 });
    assert.deepEqual(
      [...(await tgtDrives())],
      [
        [1, 'LIB002L9'],
        [2, 'LIB003L9'],
      ],
    );
    const inventory = await lab.library.inventory();
    assert.deepEqual(inventory.slots, ['LIB001L9', null, null, null]);
    assert.deepEqual(inventory.drives, [
      { index: 0, barcode: 'LIB002L9', owner: 'test job A' },
      { index: 1, barcode: 'LIB003L9', owner: 'test job B' },
    ]);
    await rejectsWith(lab.library.load('LIB001L9', 'test job C'), 'conflict', /every drive of tgt library holds a tape or is in use/);
    await rejectsWith(lab.library.load('LIB002L9', 'test job C'), 'conflict', /tape LIB002L9 is in drive 1, in use by test job A/);
  } finally {
    await lab.library.unload(first);
    await lab.library.unload(second);
  }
  assert.deepEqual(
    [...(await tgtDrives())],
    [
      [1, null],
      [2, null],
    ],
  );
  const inventory = await lab.library.inventory();
  assert.deepEqual(inventory.slots, ['LIB001L9', 'LIB002L9', null, 'LIB003L9'], 'each tape is back in the slot it came from');
  assert.ok(inventory.drives.every((drive) => drive.barcode === null && drive.owner === null));
  await rejectsWith(lab.library.unload(first), 'conflict', /drive 1 was not loaded by this engine/);
});

test('a barcode the library does not hold, or one in a mail slot, is refused by name', { skip, ...TIMEOUT }, async () => {
  await rejectsWith(lab.library.load('NOPE01L9', 'test'), 'not-found', /tgt library holds no tape NOPE01L9/);
  await rejectsWith(lab.library.load('MAIL01L9', 'test'), 'unavailable', /tape MAIL01L9 is in mail slot 1 of tgt library; import it first/);
  await rejectsWith(lab.library.exportTape('NOPE01L9'), 'not-found', /no tape NOPE01L9/);
  await rejectsWith(lab.library.importTape('LIB001L9'), 'not-found', /tape LIB001L9 is not in a mail slot of tgt library/);
});

test('export moves a tape to a free mail slot, import brings it into a free slot', { skip, ...TIMEOUT }, async () => {
  await lab.library.exportTape('LIB001L9');
  let inventory = await lab.library.inventory();
  assert.deepEqual(inventory.mailslots, ['MAIL01L9', 'LIB001L9']);
  assert.deepEqual(inventory.slots, [null, 'LIB002L9', null, 'LIB003L9']);
  await rejectsWith(lab.library.exportTape('LIB002L9'), 'conflict', /no empty mail slot to export tape LIB002L9/);

  await lab.library.importTape('MAIL01L9');
  await lab.library.importTape('LIB001L9');
  inventory = await lab.library.inventory();
  assert.deepEqual(inventory.slots, ['MAIL01L9', 'LIB002L9', 'LIB001L9', 'LIB003L9']);
  assert.deepEqual(inventory.mailslots, [null, null]);
  await rejectsWith(lab.library.importTape('LIB002L9'), 'not-found', /not in a mail slot/);

  // A tape the operator puts in a mail slot is seen there, and a full library refuses it.
  await lab.tgt.newTape({ barcode: 'NEW001L9', sizeMiB: 1 });
  await lab.tgt.insertIntoMailslot('NEW001L9', 1);
  assert.deepEqual((await lab.library.inventory()).mailslots, [null, 'NEW001L9']);
  await rejectsWith(lab.library.importTape('NEW001L9'), 'conflict', /tgt library has no free slot for tape NEW001L9/);
});

test('devices without a changer, or without a drive, are not a library', { skip, ...TIMEOUT }, async () => {
  const devices = await lab.session.devices();
  const changer = devices.find((device) => device.lun === lab.tgt.luns.changer);
  const drives = devices.filter((device) => lab.tgt.luns.drives.includes(device.lun));
  await rejectsWith(openScsiLibrary(drives, { name: 'x' }), 'not-found', /no media changer among the 2 logical unit\(s\)/);
  await rejectsWith(openScsiLibrary(changer ? [changer] : [], { name: 'x' }), 'not-found', /no tape drive among the 1 logical unit\(s\)/);
});

test('a changer that is not ready is refused with its sense', { skip, ...TIMEOUT }, async () => {
  const changerLun = ['--mode', 'logicalunit', '--tid', '1', '--lun', String(lab.tgt.luns.changer)];
  await lab.tgt.admin(['--op', 'update', ...changerLun, '--params', 'online=0']);
  try {
    await rejectsWith(
      openScsiLibrary(await lab.session.devices(), { name: 'x' }),
      'unavailable',
      /the media changer at .* is not ready: NOT READY/,
    );
  } finally {
    await lab.tgt.admin(['--op', 'update', ...changerLun, '--params', 'online=1']);
  }
  assert.equal((await openScsiLibrary(await lab.session.devices(), { name: 'x' })).describe().drives.length, 2);
});
