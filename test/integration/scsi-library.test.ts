// The SCSI tape library against a real changer: tgt's SMC changer and SSC drives over our iSCSI
// initiator. The inventory must agree with how tgt was configured; loads, unloads, exports and
// imports must move the cartridges where tgt itself (tgtadm's view of each drive) says they are;
// and what cannot be done says why.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { IscsiSession } from '../../electron/drivers/scsi/iscsi/index.ts';
import { openScsiLibrary, type ScsiTapeLibrary } from '../../electron/drivers/scsi/scsi-library.ts';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';

const skip = (await tgtUnavailable()) ?? false;
const TIMEOUT = { timeout: 60_000 };

let dir = '';
let tgt: TgtLibrary;
let session: IscsiSession;
let library: ScsiTapeLibrary;

before(async () => {
  if (skip !== false) return;
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-scsi-library-'));
  tgt = await startTgtLibrary(dir, {
    drives: 2,
    slots: 4,
    mailslots: 2,
    tapes: [
      { barcode: 'LIB001L9', sizeMiB: 2 },
      { barcode: 'LIB002L9', sizeMiB: 2 },
      { barcode: 'LIB003L9', sizeMiB: 2, place: { kind: 'slot', index: 3 } },
      { barcode: 'MAIL01L9', sizeMiB: 2, place: { kind: 'mailslot', index: 0 } },
    ],
  });
  session = await IscsiSession.connect({ host: tgt.host, port: tgt.port, targetName: tgt.targetName });
  library = await openScsiLibrary(await session.devices(), { name: 'tgt library', blockSize: 64 * 1024, close: () => session.close() });
});

after(async () => {
  await library?.close();
  await tgt?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

/** What tgt itself says each drive LUN holds: the image it has open, or null when offline. */
async function tgtDrives(): Promise<Map<number, string | null>> {
  const shown = await tgt.admin(['--op', 'show', '--mode', 'target']);
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

async function rejects(work: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(work, (error: unknown) => {
    assert.ok(error instanceof LifeboatError, `a LifeboatError, not ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

test('the changer and both drives are found, each drive on its data-transfer element', { skip, ...TIMEOUT }, () => {
  const described = library.describe();
  assert.equal(described.changer.product.trim(), 'VIRTUAL-CHANGER');
  assert.deepEqual(
    described.drives.map((drive) => drive.element),
    tgt.elements.drives,
  );
  assert.deepEqual(
    described.drives.map((drive) => drive.address.split('/').at(-1)),
    tgt.luns.drives.map(String),
  );
  assert.ok(described.drives.every((drive) => drive.product.trim() === 'VIRTUAL-TAPE' && drive.serial));
  assert.ok(['identifier', 'address-order'].includes(described.mapping));
});

test('the inventory agrees with the configuration of tgt', { skip, ...TIMEOUT }, async () => {
  const inventory = await library.inventory();
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
  const first = await library.load('LIB002L9', 'test job A');
  const second = await library.load('LIB003L9', 'test job B');
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
    const inventory = await library.inventory();
    assert.deepEqual(inventory.slots, ['LIB001L9', null, null, null]);
    assert.deepEqual(inventory.drives, [
      { index: 0, barcode: 'LIB002L9', owner: 'test job A' },
      { index: 1, barcode: 'LIB003L9', owner: 'test job B' },
    ]);
    await rejects(library.load('LIB001L9', 'test job C'), 'conflict', /every drive of tgt library holds a tape or is in use/);
    await rejects(library.load('LIB002L9', 'test job C'), 'conflict', /tape LIB002L9 is in drive 1, in use by test job A/);
  } finally {
    await library.unload(first);
    await library.unload(second);
  }
  assert.deepEqual(
    [...(await tgtDrives())],
    [
      [1, null],
      [2, null],
    ],
  );
  const inventory = await library.inventory();
  assert.deepEqual(inventory.slots, ['LIB001L9', 'LIB002L9', null, 'LIB003L9'], 'each tape is back in the slot it came from');
  assert.ok(inventory.drives.every((drive) => drive.barcode === null && drive.owner === null));
  await rejects(library.unload(first), 'conflict', /drive 1 was not loaded by this engine/);
});

test('a barcode the library does not hold, or one in a mail slot, is refused by name', { skip, ...TIMEOUT }, async () => {
  await rejects(library.load('NOPE01L9', 'test'), 'not-found', /tgt library holds no tape NOPE01L9/);
  await rejects(library.load('MAIL01L9', 'test'), 'unavailable', /tape MAIL01L9 is in mail slot 1 of tgt library; import it first/);
  await rejects(library.exportTape('NOPE01L9'), 'not-found', /no tape NOPE01L9/);
  await rejects(library.importTape('LIB001L9'), 'not-found', /tape LIB001L9 is not in a mail slot of tgt library/);
});

test('export moves a tape to a free mail slot, import brings it into a free slot', { skip, ...TIMEOUT }, async () => {
  await library.exportTape('LIB001L9');
  let inventory = await library.inventory();
  assert.deepEqual(inventory.mailslots, ['MAIL01L9', 'LIB001L9']);
  assert.deepEqual(inventory.slots, [null, 'LIB002L9', null, 'LIB003L9']);
  await rejects(library.exportTape('LIB002L9'), 'conflict', /no empty mail slot to export tape LIB002L9/);

  await library.importTape('MAIL01L9');
  await library.importTape('LIB001L9');
  inventory = await library.inventory();
  assert.deepEqual(inventory.slots, ['MAIL01L9', 'LIB002L9', 'LIB001L9', 'LIB003L9']);
  assert.deepEqual(inventory.mailslots, [null, null]);
  await rejects(library.importTape('LIB002L9'), 'not-found', /not in a mail slot/);

  // A tape the operator puts in a mail slot is seen there, and a full library refuses it.
  await tgt.newTape({ barcode: 'NEW001L9', sizeMiB: 1 });
  await tgt.insertIntoMailslot('NEW001L9', 1);
  assert.deepEqual((await library.inventory()).mailslots, [null, 'NEW001L9']);
  await rejects(library.importTape('NEW001L9'), 'conflict', /tgt library has no free slot for tape NEW001L9/);
});

test('devices without a changer, or without a drive, are not a library', { skip, ...TIMEOUT }, async () => {
  const devices = await session.devices();
  const changer = devices.find((device) => device.lun === tgt.luns.changer);
  const drives = devices.filter((device) => tgt.luns.drives.includes(device.lun));
  await rejects(openScsiLibrary(drives, { name: 'x' }), 'not-found', /no media changer among the 2 logical unit\(s\)/);
  await rejects(openScsiLibrary(changer ? [changer] : [], { name: 'x' }), 'not-found', /no tape drive among the 1 logical unit\(s\)/);
});
