// Each command's CDB, byte for byte, and what each answer becomes: a device here replays answers
// tgt really gave (or the standard's, where tgt has none) and records what it was sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { inquiry, testUnitReady, unitSerialNumber } from '../../electron/drivers/scsi/inquiry.ts';
import type { ScsiCommand, ScsiDevice, ScsiResult } from '../../electron/drivers/scsi/scsi-device.ts';
import { run, ScsiError } from '../../electron/drivers/scsi/scsi-error.ts';
import { SenseKey } from '../../electron/drivers/scsi/sense.ts';
import { elementAddresses, initializeElementStatus, moveMedium, readElementStatus } from '../../electron/drivers/scsi/smc.ts';
import * as ssc from '../../electron/drivers/scsi/ssc.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const good = (data = ''): ScsiResult => ({ status: 0, data: hex(data), residual: 0, sense: null });
const check = (sense: string): ScsiResult => ({ status: 2, data: new Uint8Array(), residual: 0, sense: hex(sense) });
/** Fixed-format sense: key byte (with FM/EOM/ILI), information (or null), ASC, ASCQ. */
const fixedSense = (keyByte: number, asc: number, ascq: number, information: number | null = null): string => {
  const bytes = new Uint8Array(18);
  bytes[0] = information === null ? 0x70 : 0xf0;
  bytes[2] = keyByte;
  if (information !== null) new DataView(bytes.buffer).setInt32(3, information);
  bytes[7] = 10;
  bytes[12] = asc;
  bytes[13] = ascq;
  return Buffer.from(bytes).toString('hex');
};

const UA = check('700006000000000a00000000290000000000'); // tgt, first command of a login
const INVALID_OPCODE = check('700005000000000a00000000200000000000'); // tgt, LOCATE(16)/(10), SPACE(16)
const INVALID_FIELD = check(fixedSense(SenseKey.illegalRequest, 0x24, 0));

class Replay implements ScsiDevice {
  readonly address = 'test://lun 1';
  readonly sent: ScsiCommand[] = [];
  readonly #answers: ScsiResult[];
  constructor(answers: ScsiResult[]) {
    this.#answers = [...answers];
  }
  async execute(command: ScsiCommand): Promise<ScsiResult> {
    this.sent.push(command);
    const answer = this.#answers.shift();
    if (answer === undefined) throw new Error(`no answer left for CDB ${Buffer.from(command.cdb).toString('hex')}`);
    return answer;
  }
  cdbs(): string[] {
    return this.sent.map((command) => Buffer.from(command.cdb).toString('hex'));
  }
  done(): void {
    assert.equal(this.#answers.length, 0, 'answers left over');
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<ScsiError | LifeboatError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return error instanceof LifeboatError && error.code === code && (message === undefined || message.test(error.message));
  });
  return caught as LifeboatError;
}

test('INQUIRY, VPD 80h and TEST UNIT READY: CDBs, absent serial page, UNIT ATTENTION retried a bounded number of times', async () => {
  const device = new Replay([
    good('018005123d00000249455420202020205649525455414c2d544150452020202030303031'),
    good('01800024202020202020202020202020202020202020202020202020202020202020626561663131'),
    INVALID_FIELD,
    UA,
    UA,
    good(),
    ...Array.from({ length: 9 }, () => UA),
    { status: 0x08, data: new Uint8Array(), residual: 0, sense: null },
  ]);
  assert.equal((await inquiry(device)).product, 'VIRTUAL-TAPE');
  assert.equal(await unitSerialNumber(device), 'beaf11');
  assert.equal(await unitSerialNumber(device), null);
  assert.equal(await testUnitReady(device), null);
  assert.equal((await testUnitReady(device))?.senseKey, SenseKey.unitAttention);
  await rejectsWith(testUnitReady(device), 'unavailable', /^test:\/\/lun 1: TEST UNIT READY failed: status BUSY \(08h\)$/);
  assert.deepEqual(device.cdbs().slice(0, 4), ['120000006000', '12018000ff00', '12018000ff00', '000000000000']);
  assert.deepEqual([device.sent[0]!.dataInLength, device.sent[1]!.dataInLength], [96, 255]);
  assert.equal(device.sent.length, 3 + 3 + 9 + 1);
  device.done();
});

test('ScsiError: the code follows the sense key, the message names device, command and sense', async () => {
  const cases: [number, string][] = [
    [SenseKey.notReady, 'unavailable'],
    [SenseKey.mediumError, 'corrupt-backup'],
    [SenseKey.hardwareError, 'corrupt-backup'],
    [SenseKey.dataProtect, 'conflict'],
    [SenseKey.volumeOverflow, 'target-full'],
    [SenseKey.illegalRequest, 'bad-request'],
    [SenseKey.abortedCommand, 'unavailable'],
    [SenseKey.blankCheck, 'unavailable'],
  ];
  for (const [key, code] of cases) {
    const error = await rejectsWith(run(new Replay([check(fixedSense(key, 0x11, 0))]), 'REWIND', { cdb: new Uint8Array(6) }), code);
    assert.ok(error instanceof ScsiError);
    assert.deepEqual([error.status, error.device, error.command, error.sense?.senseKey], [2, 'test://lun 1', 'REWIND', key]);
  }
  await rejectsWith(
    run(new Replay([check(fixedSense(SenseKey.mediumError, 0x11, 0))]), 'READ', { cdb: new Uint8Array(6) }),
    'corrupt-backup',
    /^test:\/\/lun 1: READ failed: MEDIUM ERROR: unrecovered read error \(11h\/00h\)$/,
  );
  await rejectsWith(
    run(new Replay([{ status: 0x18, data: new Uint8Array(), residual: 0, sense: null }]), 'X', { cdb: new Uint8Array(6) }),
    'conflict',
    /RESERVATION CONFLICT/,
  );
  await rejectsWith(run(new Replay([check('7f00')]), 'X', { cdb: new Uint8Array(6) }), 'unavailable', /undecodable sense data/);
  // RECOVERED ERROR is success; UNIT ATTENTION is repeated only when asked.
  assert.equal((await run(new Replay([check(fixedSense(SenseKey.recoveredError, 0x17, 0))]), 'X', { cdb: new Uint8Array(6) })).status, 2);
  await rejectsWith(
    run(new Replay([UA]), 'X', { cdb: new Uint8Array(6) }),
    'unavailable',
    /UNIT ATTENTION: power on, reset, or bus device reset occurred/,
  );
  const retried = new Replay([UA, UA, good()]);
  await run(retried, 'X', { cdb: new Uint8Array(6) }, { retryUnitAttention: true });
  retried.done();
});

test('READ(6): variable and fixed CDBs; block, short block, long block, filemark, end of data, errors', async () => {
  const data = hex('00'.repeat(300));
  const device = new Replay([
    { status: 0, data, residual: 0, sense: null },
    { status: 2, data, residual: 200, sense: hex('f00020000000c80a00000000000000000000') }, // tgt: 300 asked, 100 there
    check('f00020fffffc640a00000000000000000000'), // tgt: 100 asked, 1024 there
    check('f00080000007d00a00000000000100000000'), // tgt: filemark
    check('700048000000000a00000000000000000000'), // tgt: BLANK CHECK + EOM at the end of the data
    check(fixedSense(SenseKey.noSense, 0x00, 0x05)),
    check(fixedSense(SenseKey.mediumError, 0x11, 0x00)),
    check(fixedSense(0x80, 0x00, 0x01, 1)), // fixed mode: the filemark, 1 block not read
    check(fixedSense(0x20, 0, 0, 100)), // fixed mode: ILI is an error
    UA, // no retry: the tape may have been changed
    // tgt: 300 asked of a 200-byte block transfers 100 bytes; the block is read again at its length.
    { status: 2, data: data.subarray(0, 100), residual: 200, sense: hex(fixedSense(0x20, 0, 0, 100)) },
    good(),
    { status: 0, data: data.subarray(0, 200), residual: 0, sense: null },
    { status: 2, data: data.subarray(0, 100), residual: 200, sense: hex(fixedSense(0x20, 0, 0, 100)) },
    good(),
    { status: 0, data: data.subarray(0, 150), residual: 50, sense: null },
  ]);
  assert.deepEqual(await ssc.readBlock(device, 300), { kind: 'block', data });
  assert.deepEqual(await ssc.readBlock(device, 300), { kind: 'block', data: data.subarray(0, 100) });
  await rejectsWith(ssc.readBlock(device, 100), 'corrupt-backup', /the block on tape is 1024 bytes, longer than the 100 asked/);
  assert.deepEqual(await ssc.readBlock(device, 2000), { kind: 'filemark' });
  assert.deepEqual(await ssc.readBlock(device, 2000), { kind: 'end-of-data' });
  assert.deepEqual(await ssc.readBlock(device, 2000), { kind: 'end-of-data' });
  await rejectsWith(ssc.readBlock(device, 2000), 'corrupt-backup', /READ failed: MEDIUM ERROR: unrecovered read error/);
  assert.deepEqual(await ssc.readBlock(device, 262144, { fixed: true }), { kind: 'filemark' });
  await rejectsWith(ssc.readBlock(device, 262144, { fixed: true }), 'unavailable', /incorrect length/);
  await rejectsWith(ssc.readBlock(device, 262144), 'unavailable', /UNIT ATTENTION/);
  assert.deepEqual(await ssc.readBlock(device, 300), { kind: 'block', data: data.subarray(0, 200) });
  await rejectsWith(ssc.readBlock(device, 300), 'unavailable', /READ returned 150 bytes of a 200-byte block, twice/);
  assert.deepEqual(device.cdbs().slice(10, 13), ['080000012c00', '1100ffffff00', '08000000c800']);
  assert.deepEqual(device.cdbs().slice(0, 3), ['080000012c00', '080000012c00', '080000006400']);
  assert.deepEqual(device.cdbs().slice(7, 9), ['080100000100', '080100000100']);
  assert.equal(device.sent[7]!.dataInLength, 262144);
  device.done();
});

test('WRITE(6) and WRITE FILEMARKS: CDBs, early warning, full tape, write protection, deferred errors', async () => {
  const device = new Replay([
    good(),
    check('700040000000000a00000000000000000000'), // tgt: NO SENSE + EOM past the tape's size
    check(fixedSense(SenseKey.noSense, 0x00, 0x07)), // programmable early warning
    check(fixedSense(0x40 | SenseKey.volumeOverflow, 0x00, 0x02, 1024)),
    check('700007000000000a00000000270000000000'), // tgt: write protected
    check(fixedSense(SenseKey.mediumError, 0x0c, 0x00).replace(/^70/, '71')), // deferred write error
    good(),
    check('700040000000000a00000000000000000000'),
  ]);
  const block = new Uint8Array(1024);
  assert.deepEqual(await ssc.writeBlock(device, block), { earlyWarning: false });
  assert.deepEqual(await ssc.writeBlock(device, block), { earlyWarning: true });
  assert.deepEqual(await ssc.writeBlock(device, block), { earlyWarning: true });
  await rejectsWith(
    ssc.writeBlock(device, block),
    'target-full',
    /VOLUME OVERFLOW: end of partition\/medium detected \(00h\/02h\) \[end of medium\]/,
  );
  await rejectsWith(ssc.writeBlock(device, block), 'conflict', /DATA PROTECT: write protected/);
  await rejectsWith(
    ssc.writeBlock(device, new Uint8Array(4096), { fixed: true }),
    'corrupt-backup',
    /write error \(0Ch\/00h\) \[deferred\]/,
  );
  assert.deepEqual(await ssc.writeFilemarks(device, 2), { earlyWarning: false });
  assert.deepEqual(await ssc.writeFilemarks(device, 0), { earlyWarning: true });
  assert.deepEqual(device.cdbs(), [
    '0a0000040000',
    '0a0000040000',
    '0a0000040000',
    '0a0000040000',
    '0a0000040000',
    '0a0100000100',
    '100000000200',
    '100000000000',
  ]);
  assert.equal(device.sent[0]!.dataOut, block);
  await rejectsWith(ssc.writeFilemarks(device, 1 << 24), 'bad-request', /does not fit/);
  device.done();
});

test('SPACE(6), SPACE(16) for counts past 24 bits; a space that stops early is not-found', async () => {
  const device = new Replay([
    good(),
    good(),
    good(),
    good(),
    check('700000000000000a00000000000500000000'),
    check(fixedSense(0x80, 0x00, 0x01, 2)),
  ]);
  await ssc.space(device, 'blocks', -1);
  await ssc.space(device, 'filemarks', 3);
  await ssc.space(device, 'end-of-data', 99);
  await ssc.space(device, 'blocks', -(1 << 24));
  await rejectsWith(
    ssc.space(device, 'filemarks', 5),
    'not-found',
    /SPACE \(5 filemarks\) failed: NO SENSE: end of data detected \(00h\/05h\)/,
  );
  const error = await rejectsWith(ssc.space(device, 'blocks', 7), 'not-found');
  assert.ok(error instanceof ScsiError);
  assert.deepEqual([error.sense?.filemark, error.sense?.information], [true, 2]);
  assert.deepEqual(device.cdbs().slice(0, 4), ['1100ffffff00', '110100000300', '110300000000', '91000000ffffffffff00000000000000']);
  device.done();
});

test('LOCATE(16), and LOCATE(10) from then on for a device that refuses it', async () => {
  const device = new Replay([good(), INVALID_OPCODE, good(), good(), INVALID_OPCODE]);
  await ssc.locate(device, 0x1_0000_0005);
  await ssc.locate(device, 5);
  await ssc.locate(device, 6);
  await rejectsWith(
    ssc.locate(device, 7),
    'bad-request',
    /LOCATE\(10\) failed: ILLEGAL REQUEST: invalid command operation code \(20h\/00h\)/,
  );
  assert.deepEqual(device.cdbs(), [
    '92000000000000010000000500000000',
    '92000000000000000000000500000000',
    '2b000000000005000000',
    '2b000000000006000000',
    '2b000000000007000000',
  ]);
  // Past 32 bits there is no LOCATE(10) to fall back to.
  const other = new Replay([INVALID_OPCODE]);
  await rejectsWith(ssc.locate(other, 2 ** 33), 'bad-request', /LOCATE\(16\) failed/);
  device.done();
});

test('READ POSITION: long form, short form for a device that refuses it, UNIT ATTENTION repeated', async () => {
  const long = '0000000000000000' + '0000000000000102' + '0000000000000003' + '0000000000000000';
  const device = new Replay([
    UA,
    good(long),
    INVALID_FIELD,
    good('8000000000000000000000000000000000000000'),
    good('0000000000000007000000000000000000000000'),
  ]);
  assert.deepEqual(await ssc.readPosition(device), { beginning: false, end: false, partition: 0, logicalObject: 258, file: 3 });
  const other = new Replay([
    INVALID_FIELD,
    good('8000000000000000000000000000000000000000'),
    good('0000000000000007000000000000000000000000'),
  ]);
  assert.deepEqual(await ssc.readPosition(other), { beginning: true, end: false, partition: 0, logicalObject: 0, file: null });
  assert.deepEqual(await ssc.readPosition(other), { beginning: false, end: false, partition: 0, logicalObject: 7, file: null });
  assert.deepEqual(device.cdbs().slice(0, 2), ['34060000000000002000', '34060000000000002000']);
  assert.deepEqual(other.cdbs(), ['34060000000000002000', '34000000000000000000', '34000000000000000000']);
  assert.equal(other.sent[1]!.dataInLength, 20);
  other.done();
});

test('REWIND, LOAD/UNLOAD, PREVENT/ALLOW, READ BLOCK LIMITS: CDBs, and a UNIT ATTENTION repeated', async () => {
  const device = new Replay([UA, good(), good(), good(), good(), good(), good('091000000004')]);
  await ssc.rewind(device);
  await ssc.loadUnload(device, true);
  await ssc.loadUnload(device, false);
  await ssc.preventRemoval(device, true);
  await ssc.preventRemoval(device, false);
  assert.deepEqual(await ssc.readBlockLimits(device), { granularity: 9, maxBlock: 1 << 20, minBlock: 4 });
  assert.deepEqual(device.cdbs(), [
    '010000000000',
    '010000000000',
    '1b0000000100',
    '1b0000000000',
    '1e0000000100',
    '1e0000000000',
    '050000000000',
  ]);
  device.done();
});

test('MODE SENSE/SELECT: the tape mode, block size kept with density and buffering, compression', async () => {
  const capable = '1b009008' + '0000000000000000' + '0f0e4080' + '00'.repeat(12); // WP, DCC, no DCE
  const device = new Replay([
    INVALID_FIELD,
    good('0b00100842000000000004000000'),
    good(capable),
    good(),
    good('13009000' + '0f0e4080' + '00'.repeat(12)),
    good(),
    good('13001000' + '0f0e0000' + '00'.repeat(12)),
    good('13001000' + '0f0e0000' + '00'.repeat(12)),
  ]);
  assert.deepEqual(await ssc.modeSenseTape(device), {
    writeProtected: false,
    blockSize: 1024,
    densityCode: 0x42,
    bufferedMode: 1,
    compression: null,
  });
  await ssc.setBlockSize(device, 262144);
  await ssc.setCompression(device, true);
  await ssc.setCompression(device, false); // tgt: off already, nothing sent
  await rejectsWith(ssc.setCompression(device, true), 'bad-request', /cannot compress/);
  assert.deepEqual(device.cdbs(), [
    '1a000f00ff00',
    '1a003f00ff00',
    '1a000f00ff00',
    '151000000c00',
    '1a080f00ff00',
    '151000001400',
    '1a080f00ff00',
    '1a080f00ff00',
  ]);
  // Header: WP masked, buffered mode kept, 8-byte descriptor; density kept, block length 256 KiB.
  assert.equal(Buffer.from(device.sent[3]!.dataOut!).toString('hex'), '00001008' + '0000000000040000');
  assert.equal(Buffer.from(device.sent[5]!.dataOut!).toString('hex'), '00001000' + '0f0ec080000000000000000000000000');
  device.done();
});

test('READ ELEMENT STATUS one type at a time: header first, VOLTAG and DVCID, DVCID dropped when refused', async () => {
  const picker = '07d000010000003c01800034000000340064000000000000000000002020202020202020202020202020202020202020202020202020202020202020';
  const empty = (type: number) => `0000000000000008` + `0${type}80003400000000`;
  const device = new Replay([
    INVALID_FIELD, // DVCID refused: asked again without it, for every type after
    good(picker.slice(0, 16)),
    good(picker),
    good(empty(2).slice(0, 16)),
    good(empty(2)),
    UA,
    good(empty(3).slice(0, 16)),
    good(empty(3)),
    good(empty(4).slice(0, 16)),
    good(empty(4)),
  ]);
  const elements = await readElementStatus(device);
  assert.deepEqual(elements, [
    {
      type: 'transport',
      address: 100,
      full: false,
      barcode: null,
      sourceAddress: null,
      exception: null,
      accessible: true,
      identifier: null,
    },
  ]);
  assert.deepEqual(device.cdbs().slice(0, 5), [
    'b8110000ffff010000080000',
    'b8110000ffff000000080000',
    'b8110000ffff000000440000',
    'b8120000ffff000000080000',
    'b8120000ffff000000100000',
  ]);
  assert.deepEqual(device.sent[2]!.dataInLength, 0x44);
  assert.deepEqual(device.cdbs().slice(5), [
    'b8130000ffff000000080000',
    'b8130000ffff000000080000',
    'b8130000ffff000000100000',
    'b8140000ffff000000080000',
    'b8140000ffff000000100000',
  ]);
  device.done();
  const one = new Replay([good(empty(4).slice(0, 16)), good(empty(4))]);
  assert.deepEqual(await readElementStatus(one, { type: 'data-transfer', first: 1, count: 2 }), []);
  assert.deepEqual(one.cdbs()[0], 'b81400010002010000080000');
});

test('MOVE MEDIUM, INITIALIZE ELEMENT STATUS and page 1Dh: CDBs and the changer refusing', async () => {
  const device = new Replay([
    good('170000001d120064000103e8000307d00001000100020000'), // tgt
    good(),
    check('700005000000000a000000003b0e00000000'), // tgt: source empty
    UA,
    good(),
  ]);
  assert.deepEqual((await elementAddresses(device))['data-transfer'], { first: 1, count: 2 });
  await moveMedium(device, 100, 1000, 1);
  await rejectsWith(
    moveMedium(device, 100, 1001, 2),
    'bad-request',
    /MOVE MEDIUM \(1001 to 2\) failed: ILLEGAL REQUEST: medium source element empty \(3Bh\/0Eh\)/,
  );
  await initializeElementStatus(device);
  assert.deepEqual(device.cdbs(), ['1a081d00ff00', 'a500006403e8000100000000', 'a500006403e9000200000000', '070000000000', '070000000000']);
  device.done();
});

test('every command fed random answers (status, sense, data) ends in a value or one LifeboatError', async () => {
  const answer = fc.record({
    status: fc.constantFrom(0x00, 0x02, 0x02, 0x02, 0x08, 0x18, 0x28),
    sense: fc.option(
      fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc
          .tuple(fc.constantFrom(0x70, 0x71, 0xf0, 0x72, 0x73), fc.uint8Array({ minLength: 2, maxLength: 30 }))
          .map(([code, rest]) => Uint8Array.from([code, ...rest])),
      ),
    ),
    data: fc.uint8Array({ maxLength: 200 }),
  });
  const commands: ((device: ScsiDevice) => Promise<unknown>)[] = [
    (device) => ssc.readBlock(device, 100),
    (device) => ssc.readBlock(device, 100, { fixed: true }),
    (device) => ssc.writeBlock(device, new Uint8Array(10)),
    (device) => ssc.writeFilemarks(device, 1),
    (device) => ssc.space(device, 'blocks', -3),
    (device) => ssc.locate(device, 9),
    (device) => ssc.readPosition(device),
    (device) => ssc.modeSenseTape(device),
    (device) => ssc.setBlockSize(device, 512),
    (device) => ssc.setCompression(device, true),
    (device) => ssc.readBlockLimits(device),
    (device) => inquiry(device),
    (device) => unitSerialNumber(device),
    (device) => testUnitReady(device),
    (device) => readElementStatus(device),
    (device) => elementAddresses(device),
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: commands.length - 1 }),
      fc.array(answer, { minLength: 40, maxLength: 40 }),
      async (which, answers) => {
        // The answers come round again, so retries and two-step reads never run out of them.
        const results = answers.map((a): ScsiResult => ({ status: a.status, sense: a.sense, data: a.data, residual: 0 }));
        const device = new Replay(Array.from({ length: 400 }, (_, i) => results[i % results.length]!));
        try {
          await commands[which]!(device);
        } catch (error) {
          if (!(error instanceof LifeboatError)) throw error;
        }
      },
    ),
    { numRuns: 1500 },
  );
});
