// Every SCSI command of the tape layer against a real target: tgt's SSC drives and SMC changer,
// reached over our own iSCSI initiator. What tgt 1.0.85 does not do (LOCATE, READ POSITION that
// says where the tape is, compression) is asserted as the error the operator would see.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { inquiry, PeripheralType, testUnitReady, unitSerialNumber } from '../../electron/drivers/scsi/inquiry.ts';
import type { ScsiDevice } from '../../electron/drivers/scsi/scsi-device.ts';
import { ScsiError } from '../../electron/drivers/scsi/scsi-error.ts';
import { SenseKey } from '../../electron/drivers/scsi/sense.ts';
import { elementAddresses, initializeElementStatus, moveMedium, readElementStatus } from '../../electron/drivers/scsi/smc.ts';
import {
  loadUnload,
  locate,
  modeSenseTape,
  preventRemoval,
  readBlock,
  type TapeReadResult,
  readBlockLimits,
  readPosition,
  rewind,
  setBlockSize,
  setCompression,
  space,
  writeBlock,
  writeFilemarks,
} from '../../electron/drivers/scsi/ssc.ts';
import { tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';
import { openSession, tgtLibrary } from '../helpers/iscsi-scsi.ts';

const skip = (await tgtUnavailable()) ?? false;
const TIMEOUT = { timeout: 60_000 };
const tapes = [
  { barcode: 'LB0001L6', sizeMiB: 16 },
  { barcode: 'LB0002L6', sizeMiB: 1 },
];
const tgt = skip === false ? await tgtLibrary('commands', { drives: 2, slots: 4, mailslots: 1, tapes }) : null;
const library = tgt as TgtLibrary;
const session = tgt === null ? null : await openSession({ host: tgt.host, port: tgt.port, targetName: tgt.targetName });

const changer = () => session!.device(library.luns.changer);
const drive = (i: number) => session!.device(library.luns.drives[i]!);
const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
/** A read with its bytes as a plain Uint8Array (the initiator hands out Buffers), to compare. */
async function read(device: ScsiDevice, maxLength: number, options?: { fixed?: boolean }): Promise<TapeReadResult> {
  const result = await readBlock(device, maxLength, options);
  return result.kind === 'block' ? { kind: 'block', data: Uint8Array.from(result.data) } : result;
}

async function rejects(promise: Promise<unknown>, check: (error: ScsiError | LifeboatError) => void): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LifeboatError, `not our error: ${String(error)}`);
    check(error);
    return true;
  });
}

test('INQUIRY, unit serial number and TEST UNIT READY name each logical unit', { skip, ...TIMEOUT }, async () => {
  const changerData = await inquiry(changer());
  assert.equal(changerData.peripheralType, PeripheralType.changer);
  assert.equal(changerData.product, 'VIRTUAL-CHANGER');
  const driveData = await inquiry(drive(0));
  assert.deepEqual([driveData.peripheralType, driveData.removable, driveData.qualifier], [PeripheralType.tape, true, 0]);
  assert.equal(driveData.product, 'VIRTUAL-TAPE');
  const serials = [await unitSerialNumber(drive(0)), await unitSerialNumber(drive(1))];
  assert.ok(serials[0] !== null && serials[1] !== null && serials[0] !== serials[1], `serials ${serials.join(', ')}`);
  // The first command of a login meets UNIT ATTENTION (29h/00h); then: no medium.
  const sense = await testUnitReady(drive(0));
  assert.deepEqual([sense?.senseKey, sense?.asc, sense?.ascq], [SenseKey.notReady, 0x3a, 0x00]);
});

test('the changer reports its elements: addresses, barcodes, and each drive by its identifier', { skip, ...TIMEOUT }, async () => {
  assert.deepEqual(await elementAddresses(changer()), {
    transport: { first: library.elements.picker, count: 1 },
    storage: { first: library.elements.slots[0], count: 4 },
    'import-export': { first: library.elements.mailslots[0], count: 1 },
    'data-transfer': { first: library.elements.drives[0], count: 2 },
  });
  const elements = await readElementStatus(changer());
  const ofType = (type: string) => elements.filter((element) => element.type === type);
  assert.deepEqual(
    ofType('storage').map((slot) => [slot.address, slot.full, slot.barcode]),
    [
      [1000, true, 'LB0001L6'],
      [1001, true, 'LB0002L6'],
      [1002, false, null],
      [1003, false, null],
    ],
  );
  assert.deepEqual(
    ofType('transport').map((picker) => [picker.address, picker.full, picker.accessible]),
    [[library.elements.picker, false, true]],
  );
  assert.equal(ofType('import-export').length, 1);
  const drives = ofType('data-transfer');
  assert.deepEqual(
    drives.map((d) => [d.address, d.full]),
    [
      [1, false],
      [2, false],
    ],
  );
  // DVCID: vendor, product and serial. tgt cuts each page's last descriptor 8 bytes short, so the
  // last drive's identifier is reported absent rather than wrong.
  const serial = await unitSerialNumber(drive(0));
  assert.ok(drives[0]!.identifier?.endsWith(serial!), `identifier ${drives[0]!.identifier} of serial ${serial}`);
  assert.equal(drives[1]!.identifier, null);
  assert.deepEqual(
    (await readElementStatus(changer(), { type: 'data-transfer', identifiers: false })).map((d) => d.identifier),
    [null, null],
  );
  await initializeElementStatus(changer());

  // An operator puts a cartridge into the mail slot; the changer sees it and moves it to a slot.
  await library.newTape({ barcode: 'LB0009L6', sizeMiB: 1 });
  await library.insertIntoMailslot('LB0009L6', 0);
  const [mailslot] = await readElementStatus(changer(), { type: 'import-export' });
  assert.deepEqual([mailslot!.address, mailslot!.full, mailslot!.barcode], [library.elements.mailslots[0], true, 'LB0009L6']);
  await moveMedium(changer(), library.elements.picker, library.elements.mailslots[0]!, 1003);
  const slots = await readElementStatus(changer(), { type: 'storage', first: 1003 });
  assert.deepEqual(
    slots.map((slot) => [slot.address, slot.full, slot.barcode, slot.sourceAddress]),
    [[1003, true, 'LB0009L6', library.elements.mailslots[0]]],
  );
});

test('a cartridge moves into a drive and back; PREVENT keeps it in', { skip, ...TIMEOUT }, async () => {
  await moveMedium(changer(), library.elements.picker, 1000, 1);
  const [loaded] = await readElementStatus(changer(), { type: 'data-transfer' });
  assert.deepEqual([loaded!.full, loaded!.barcode, loaded!.sourceAddress], [true, 'LB0001L6', 1000]);
  assert.equal(await testUnitReady(drive(0)), null);
  await loadUnload(drive(0), true);
  await rejects(moveMedium(changer(), library.elements.picker, 1001, 1), (error) => {
    assert.equal(error.code, 'bad-request');
    assert.match(error.message, /medium destination element full \(3Bh\/0Dh\)/);
  });
  await preventRemoval(drive(0), true);
  await rejects(moveMedium(changer(), library.elements.picker, 1, 1002), (error) => {
    assert.match(error.message, /medium removal prevented \(53h\/02h\)/);
  });
  await preventRemoval(drive(0), false);
  await moveMedium(changer(), library.elements.picker, 1, 1002);
  await moveMedium(changer(), library.elements.picker, 1002, 1);
  assert.equal(await testUnitReady(drive(0)), null);
});

test('the drive mode: block limits, block size, compression', { skip, ...TIMEOUT }, async () => {
  assert.deepEqual(await readBlockLimits(drive(0)), { minBlock: 4, maxBlock: 1 << 20, granularity: 9 });
  assert.deepEqual(await modeSenseTape(drive(0)), {
    writeProtected: false,
    blockSize: 0,
    densityCode: 0,
    bufferedMode: 1,
    compression: null,
  });
  await setBlockSize(drive(0), 65536);
  assert.equal((await modeSenseTape(drive(0))).blockSize, 65536);
  await setBlockSize(drive(0), 0);
  assert.equal((await modeSenseTape(drive(0))).blockSize, 0);
  // tgt's drive cannot compress (DCC 0): "off" is already so, "on" is refused before any MODE SELECT.
  await setCompression(drive(0), false);
  await rejects(setCompression(drive(0), true), (error) => assert.equal(error.code, 'bad-request'));
});

test('blocks and filemarks are written, read back, and spaced over', { skip, ...TIMEOUT }, async () => {
  const tape = drive(0);
  await rewind(tape);
  const blocks = [bytes(1000, 1), bytes(70_000, 2), bytes(512, 3), bytes(40_000, 5)];
  for (const block of blocks) assert.deepEqual(await writeBlock(tape, block), { earlyWarning: false });
  assert.deepEqual(await writeFilemarks(tape, 1), { earlyWarning: false });
  await writeBlock(tape, bytes(4096, 4));
  await writeFilemarks(tape, 1);
  await writeFilemarks(tape, 0);

  await rewind(tape);
  // Shorter than asked: the block at its real length (ILI, residual in INFORMATION).
  assert.deepEqual(await read(tape, 65536), { kind: 'block', data: blocks[0] });
  // Longer than asked: an error, the drive is past it.
  await rejects(readBlock(tape, 65536), (error) => {
    assert.equal(error.code, 'corrupt-backup');
    assert.match(error.message, /the block on tape is 70000 bytes, longer than the 65536 asked/);
  });
  // Exactly as long: GOOD.
  assert.deepEqual(await read(tape, 512), { kind: 'block', data: blocks[2] });
  // More than half the asked length: tgt sends only (asked − block) bytes; read again whole.
  assert.deepEqual(await read(tape, 65536), { kind: 'block', data: blocks[3] });
  assert.deepEqual(await read(tape, 65536), { kind: 'filemark' });
  assert.deepEqual(await read(tape, 65536), { kind: 'block', data: bytes(4096, 4) });
  assert.deepEqual(await read(tape, 65536), { kind: 'filemark' });
  assert.deepEqual(await read(tape, 65536), { kind: 'end-of-data' });

  await rewind(tape);
  await space(tape, 'filemarks', 1);
  assert.deepEqual(await read(tape, 8192), { kind: 'block', data: bytes(4096, 4) });
  await space(tape, 'blocks', -1);
  assert.deepEqual(await read(tape, 8192), { kind: 'block', data: bytes(4096, 4) });
  await rewind(tape);
  await space(tape, 'blocks', 2);
  assert.deepEqual(await read(tape, 512), { kind: 'block', data: blocks[2] });
  // A space that runs into the end of the data stops there and says so. (tgt counts filemarks as
  // blocks when spacing blocks, and spaces one object too far back over filemarks: neither is used.)
  await rejects(space(tape, 'filemarks', 5), (error) => {
    assert.ok(error instanceof ScsiError);
    assert.equal(error.code, 'not-found');
    assert.deepEqual([error.sense?.senseKey, error.sense?.asc, error.sense?.ascq], [SenseKey.noSense, 0x00, 0x05]);
    assert.match(error.message, /SPACE \(5 filemarks\) failed: NO SENSE: end of data detected \(00h\/05h\)/);
  });
  await space(tape, 'end-of-data', 0);
  assert.deepEqual(await read(tape, 512), { kind: 'end-of-data' });
});

test('fixed blocks are written and read one block per command', { skip, ...TIMEOUT }, async () => {
  const tape = drive(0);
  await space(tape, 'end-of-data', 0);
  await setBlockSize(tape, 4096);
  try {
    await writeBlock(tape, bytes(4096, 7), { fixed: true });
    await writeBlock(tape, bytes(4096, 8), { fixed: true });
    await writeFilemarks(tape, 1);
    await rewind(tape);
    await space(tape, 'filemarks', 2);
    assert.deepEqual(await read(tape, 4096, { fixed: true }), { kind: 'block', data: bytes(4096, 7) });
    assert.deepEqual(await read(tape, 4096, { fixed: true }), { kind: 'block', data: bytes(4096, 8) });
    assert.deepEqual(await read(tape, 4096, { fixed: true }), { kind: 'filemark' });
    // tgt 1.0.85 checks the fixed block size before the end of the data: a real drive says BLANK
    // CHECK here, tgt a medium error. The tape layer reads variable blocks, where tgt is right.
    await rejects(readBlock(tape, 4096, { fixed: true }), (error) =>
      assert.match(error.message, /MEDIUM ERROR: medium format corrupted \(31h\/00h\)/),
    );
  } finally {
    await setBlockSize(tape, 0);
  }
});

test('tgt cannot LOCATE or say where the tape is: both are errors, never a wrong position', { skip, ...TIMEOUT }, async () => {
  const tape = drive(0);
  await rewind(tape);
  await rejects(locate(tape, 2), (error) => {
    assert.equal(error.code, 'bad-request');
    assert.match(error.message, /LOCATE\(10\) failed: ILLEGAL REQUEST: invalid command operation code \(20h\/00h\)/);
  });
  await space(tape, 'blocks', 1);
  await rejects(readPosition(tape), (error) => assert.equal(error.code, 'unavailable'));
  await rejects(space(tape, 'blocks', 1 << 24), (error) => assert.match(error.message, /invalid command operation code/));
});

test('early warning near the end of a small tape, and a write-protected drive', { skip, ...TIMEOUT }, async (context) => {
  await moveMedium(changer(), library.elements.picker, 1001, 2);
  const tape = drive(1);
  assert.equal(await testUnitReady(tape), null);
  let written = 0;
  let warning = false;
  for (let i = 0; i < 64 && !warning; i++) {
    warning = (await writeBlock(tape, bytes(65536, i))).earlyWarning;
    written++;
  }
  assert.ok(warning, 'no early warning after 4 MiB on a 1 MiB tape');
  context.diagnostic(`early warning on the ${written}th block of 64 KiB of a 1 MiB tape`);
  assert.ok(written >= 8 && written <= 20, `early warning after ${written} blocks of 64 KiB`);

  await library.admin([
    '--op',
    'update',
    '--mode',
    'logicalunit',
    '--tid',
    '1',
    '--lun',
    String(library.luns.drives[1]),
    '--params',
    'readonly=1',
  ]);
  assert.equal((await modeSenseTape(tape)).writeProtected, true);
  await rejects(writeBlock(tape, bytes(512, 0)), (error) => {
    assert.equal(error.code, 'conflict');
    assert.match(error.message, /DATA PROTECT: write protected \(27h\/00h\)/);
  });
});
