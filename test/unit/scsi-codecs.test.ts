// The decoders of what SCSI devices answer — sense data, INQUIRY, mode parameters, block limits,
// READ POSITION, element status — on bytes tgt 1.0.85 really sent (captured over our initiator),
// then on those bytes damaged: a valid value or one LifeboatError, never a TypeError/RangeError,
// never a read past the end.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { ascii, fitsField, readSigned, readUnsigned, writeSigned, writeUnsigned } from '../../electron/drivers/scsi/cdb.ts';
import { parseInquiry, parseUnitSerialNumber } from '../../electron/drivers/scsi/inquiry.ts';
import { parseModeParameters6 } from '../../electron/drivers/scsi/mode.ts';
import { decodeSense, describeSense, SenseKey } from '../../electron/drivers/scsi/sense.ts';
import { parseElementAddresses, parseElementStatus } from '../../electron/drivers/scsi/smc.ts';
import { parseBlockLimits, parseLongPosition, parseShortPosition, parseTapeMode } from '../../electron/drivers/scsi/ssc.ts';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));

// Captured from tgt 1.0.85 (see docs/formats/scsi.md for the commands that produced them).
const real = {
  unitAttention: hex('700006000000000a00000000290000000000'),
  noMedium: hex('700002000000000a000000003a0000000000'),
  invalidOpcode: hex('700005000000000a00000000200000000000'),
  removalPrevented: hex('700005000000000a00000000530200000000'),
  longerBlock: hex('f00020fffffc640a00000000000000000000'), // READ 100 bytes of a 1024-byte block
  shorterBlock: hex('f00020000000c80a00000000000000000000'), // READ 300 bytes of a 100-byte block
  filemark: hex('f00080000007d00a00000000000100000000'), // READ 2000 bytes at a filemark
  endOfData: hex('700048000000000a00000000000000000000'), // READ at the end of the data
  spaceEndOfData: hex('700000000000000a00000000000500000000'), // SPACE 5 filemarks, 0 left
  earlyWarning: hex('700040000000000a00000000000000000000'), // WRITE past the size of a 1 MiB tape
  writeProtected: hex('700007000000000a00000000270000000000'),
  invalidParameter: hex('700005000000000a00000000260000000000'),
  inquiryChanger: hex(
    '088005123d00000249455420202020205649525455414c2d4348414e4745522030303031000000000000000000000000000000000000000000000480096003000000',
  ),
  inquiryDrive: hex(
    '018005123d00000249455420202020205649525455414c2d544150452020202030303031000000000000000000000000000000000000000000000200096003000000',
  ),
  serialPage: hex('01800024202020202020202020202020202020202020202020202020202020202020626561663131'),
  blockLimits: hex('091000000004'),
  modeCompression: hex('1b00100800000000000000000f0e0000000000000000000000000000'),
  modeCompressionReadOnly: hex('1b00900800000000000000000f0e0000000000000000000000000000'),
  modeAll: hex(
    'a100900800000000000000000000010a00080000000008000000020e8080000a000000000000000000000a0a020000000000000002004a01001c040000000000000000000000000000000000000000000000000000000f0e0000000000000000000000000000100e00000080800000000000000000001c0a080000000000000000001d1e010000000000000000000000000000000000000000000000000000000000',
  ),
  modeElementAddresses: hex('170000001d120064000103e8000307d00001000100020000'),
  longPosition: hex('2000000000000000000000000000000000000000000000000000000000000000'),
  shortPosition: hex('1400000000000000000000000000000000000000'),
  // READ ELEMENT STATUS of one type, VOLTAG on, DVCID on: drives 1 (loaded from slot 1000) and 2.
  // tgt sends the page's last descriptor 8 bytes short.
  drivesWithIdentifiers: hex(
    '00010002000000b404800056000000ac0001010000000000008003e84c42303030314c36202020202020202020202020202020202020202020202020000000000201002249455420202020205649525455414c2d5441504520202020626561663131000000000002000000000000000000002020202020202020202020202020202020202020202020202020202020202020000000000201002249455420202020205649525455414c2d54415045202020206265',
  ),
  slots: hex(
    '03e80003000000a4028000340000009c03e8000000000000000000002020202020202020202020202020202020202020202020202020202020202020000000000000000003e901000000000000000000534d414c4c312020202020202020202020202020202020202020202020202020000000000000000003ea000000000000000000002020202020202020202020202020202020202020202020202020202020202020',
  ),
  picker: hex(
    '07d000010000005e0180005600000056006400000000000000000000202020202020202020202020202020202020202020202020202020202020202000000000000000000000000000000000000000000000000000000000000000000000',
  ),
};

test('fixed-format sense from tgt decodes to key, ASC/ASCQ, tape flags and the signed residual', () => {
  assert.deepEqual(decodeSense(real.unitAttention), {
    senseKey: SenseKey.unitAttention,
    asc: 0x29,
    ascq: 0,
    filemark: false,
    endOfMedium: false,
    incorrectLength: false,
    information: null,
    descriptorFormat: false,
    deferred: false,
  });
  assert.equal(describeSense(decodeSense(real.noMedium)), 'NOT READY: medium not present (3Ah/00h)');
  assert.equal(describeSense(decodeSense(real.invalidOpcode)), 'ILLEGAL REQUEST: invalid command operation code (20h/00h)');
  assert.equal(describeSense(decodeSense(real.removalPrevented)), 'ILLEGAL REQUEST: medium removal prevented (53h/02h)');
  assert.equal(describeSense(decodeSense(real.writeProtected)), 'DATA PROTECT: write protected (27h/00h)');
  const longer = decodeSense(real.longerBlock);
  assert.deepEqual([longer.incorrectLength, longer.information], [true, -924]);
  assert.deepEqual([decodeSense(real.shorterBlock).information, decodeSense(real.shorterBlock).incorrectLength], [200, true]);
  const filemark = decodeSense(real.filemark);
  assert.deepEqual([filemark.senseKey, filemark.filemark, filemark.information, filemark.asc, filemark.ascq], [0, true, 2000, 0, 1]);
  assert.equal(describeSense(filemark), 'NO SENSE: filemark detected (00h/01h) [filemark]');
  const eod = decodeSense(real.endOfData);
  assert.deepEqual([eod.senseKey, eod.endOfMedium], [SenseKey.blankCheck, true]);
  assert.equal(describeSense(decodeSense(real.spaceEndOfData)), 'NO SENSE: end of data detected (00h/05h)');
  assert.equal(describeSense(decodeSense(real.earlyWarning)), 'NO SENSE: no additional sense information (00h/00h) [end of medium]');
});

test('descriptor-format sense: information and stream-command descriptors, deferred, truncated', () => {
  // 72h current: MEDIUM ERROR 11h/00h, information 0x1234 (8-byte), stream commands ILI+EOM.
  const bytes = hex('7203110000000014' + '000a8000' + '0000000000001234' + '04020060');
  const sense = decodeSense(bytes);
  assert.deepEqual(sense, {
    senseKey: SenseKey.mediumError,
    asc: 0x11,
    ascq: 0,
    filemark: false,
    endOfMedium: true,
    incorrectLength: true,
    information: 0x1234,
    descriptorFormat: true,
    deferred: false,
  });
  assert.equal(describeSense(sense), 'MEDIUM ERROR: unrecovered read error (11h/00h) [end of medium, incorrect length]');
  // Negative residual in 8 bytes; a descriptor cut off by the transfer is left out.
  assert.equal(decodeSense(hex('7300000000000014' + '000a8000' + 'fffffffffffffffe' + '0402')).information, -2);
  assert.equal(decodeSense(hex('7300000000000014' + '000a8000' + 'fffffffffffffffe' + '0402')).deferred, true);
  assert.equal(decodeSense(hex('720600')).asc, 0);
  assert.throws(() => decodeSense(hex('')), LifeboatError);
  assert.throws(() => decodeSense(hex('7f000000')), /response code 7Fh/);
  assert.throws(() => decodeSense(hex('7000')), LifeboatError);
});

test('INQUIRY, serial page, block limits, mode parameters and positions as tgt sent them', () => {
  assert.deepEqual(parseInquiry(real.inquiryChanger), {
    peripheralType: 8,
    qualifier: 0,
    removable: true,
    vendor: 'IET',
    product: 'VIRTUAL-CHANGER',
    revision: '0001',
  });
  assert.equal(parseInquiry(real.inquiryDrive).peripheralType, 1);
  assert.equal(parseUnitSerialNumber(real.serialPage), 'beaf11');
  assert.equal(parseUnitSerialNumber(hex('01800000')), null);
  assert.deepEqual(parseBlockLimits(real.blockLimits), { granularity: 9, maxBlock: 1 << 20, minBlock: 4 });
  assert.deepEqual(parseTapeMode(parseModeParameters6(real.modeCompression)), {
    writeProtected: false,
    bufferedMode: 1,
    densityCode: 0,
    blockSize: 0,
    compression: null,
  });
  assert.equal(parseTapeMode(parseModeParameters6(real.modeCompressionReadOnly)).writeProtected, true);
  const all = parseModeParameters6(real.modeAll);
  assert.deepEqual([...all.pages.keys()], [0x00, 0x01, 0x02, 0x0a, 0x0f, 0x10, 0x1c, 0x1d]);
  // A drive that compresses: DCC and DCE set in page 0Fh.
  const compressing = parseTapeMode(parseModeParameters6(hex('1b001008' + '4200000000000400' + '0f0ec080' + '00'.repeat(12))));
  assert.deepEqual([compressing.compression, compressing.blockSize, compressing.densityCode], [true, 1024, 0x42]);
  const addresses = parseModeParameters6(real.modeElementAddresses).pages.get(0x1d)!;
  assert.deepEqual(parseElementAddresses(addresses), {
    transport: { first: 100, count: 1 },
    storage: { first: 1000, count: 3 },
    'import-export': { first: 2000, count: 1 },
    'data-transfer': { first: 1, count: 2 },
  });
  // tgt answers zeros wherever the tape is: short form with BPU, long form object 0 without BOP.
  assert.throws(
    () => parseShortPosition(real.shortPosition),
    (error: unknown) => error instanceof LifeboatError && error.code === 'unavailable',
  );
  assert.throws(
    () => parseLongPosition(real.longPosition),
    (error: unknown) => error instanceof LifeboatError && error.code === 'unavailable',
  );
  const long = hex('0000000000000000' + '0000000000000102' + '0000000000000003' + '0000000000000000');
  assert.deepEqual(parseLongPosition(long), { beginning: false, end: false, partition: 0, logicalObject: 258, file: 3 });
  assert.deepEqual(parseLongPosition(hex('80' + '00'.repeat(31))), {
    beginning: true,
    end: false,
    partition: 0,
    logicalObject: 0,
    file: 0,
  });
  assert.equal(parseLongPosition(hex('08' + '00'.repeat(14) + '05' + '00'.repeat(16))).file, null);
  assert.deepEqual(parseShortPosition(hex('4001000000001000000010000000000000000000')), {
    beginning: false,
    end: true,
    partition: 1,
    logicalObject: 0x1000,
    file: null,
  });
});

test('element status pages: barcodes, source, identifiers, and the short last descriptor', () => {
  const drives = parseElementStatus(real.drivesWithIdentifiers);
  assert.deepEqual(drives, [
    {
      type: 'data-transfer',
      address: 1,
      full: true,
      barcode: 'LB0001L6',
      sourceAddress: 1000,
      exception: null,
      accessible: false,
      identifier: 'IET     VIRTUAL-TAPE    beaf11',
    },
    // Cut short: the identifier is not all there, so it is absent, not a wrong serial.
    {
      type: 'data-transfer',
      address: 2,
      full: false,
      barcode: null,
      sourceAddress: null,
      exception: null,
      accessible: false,
      identifier: null,
    },
  ]);
  assert.deepEqual(
    parseElementStatus(real.slots).map((slot) => [slot.address, slot.full, slot.barcode]),
    [
      [1000, false, null],
      [1001, true, 'SMALL1'],
      [1002, false, null],
    ],
  );
  assert.deepEqual(
    parseElementStatus(real.picker).map((picker) => [picker.type, picker.address, picker.accessible, picker.identifier]),
    [['transport', 100, true, null]],
  );
  // ACCESS, EXCEPT with ASC/ASCQ, a binary identifier shown as hex, two pages in one answer.
  const page = (type: number, descriptor: string) =>
    `0${type}00${(descriptor.length / 2).toString(16).padStart(4, '0')}00${(descriptor.length / 2).toString(16).padStart(6, '0')}${descriptor}`;
  const drive = '0003' + '0d' + '00' + '3000' + '000000' + '00' + '0000' + '01000004' + 'deadbeef';
  const slot = '03e8' + '09' + '00' + '0000' + '000000' + '00' + '0000';
  const both = page(4, drive) + page(2, slot);
  const two = parseElementStatus(hex('00000002' + '00' + (both.length / 2).toString(16).padStart(6, '0') + both));
  assert.deepEqual(two, [
    {
      type: 'data-transfer',
      address: 3,
      full: true,
      barcode: null,
      sourceAddress: null,
      exception: { asc: 0x30, ascq: 0 },
      accessible: true,
      identifier: 'deadbeef',
    },
    { type: 'storage', address: 1000, full: true, barcode: null, sourceAddress: null, exception: null, accessible: true, identifier: null },
  ]);
  assert.throws(() => parseElementStatus(hex('0000000100000010' + '0900000c00000008' + '0000000000000000')), /element type code 9/);
});

/** The bytes behind a Proxy that throws on any index at or past the end: a parser that reads past
 * the buffer fails the property instead of quietly reading undefined. */
function guarded(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key) && Number(key) >= target.length)
        throw new Error(`read byte ${key} past the end (${target.length})`);
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Every number a parser returns is a safe integer; every string printable ASCII. */
function assertSane(value: unknown, path = 'value'): void {
  if (typeof value === 'number') assert.ok(Number.isSafeInteger(value), `${path} = ${value}`);
  else if (typeof value === 'string') assert.match(value, /^[\x20-\x7e]*$/, path);
  else if (value instanceof Uint8Array || value === null || typeof value === 'boolean') return;
  else if (value instanceof Map) for (const [key, entry] of value) assertSane(entry, `${path}.${String(key)}`);
  else if (Array.isArray(value)) value.forEach((entry, i) => assertSane(entry, `${path}[${i}]`));
  else if (typeof value === 'object') for (const [key, entry] of Object.entries(value)) assertSane(entry, `${path}.${key}`);
  else assert.fail(`${path} is a ${typeof value}`);
}

const decoders: [string, (bytes: Uint8Array) => unknown, Uint8Array[]][] = [
  [
    'sense',
    (bytes) => describeSense(decodeSense(bytes)),
    [real.unitAttention, real.longerBlock, real.filemark, real.endOfData, hex('7203110000000014000a80000000000000001234040200600')],
  ],
  ['INQUIRY', parseInquiry, [real.inquiryChanger, real.inquiryDrive]],
  ['unit serial number', parseUnitSerialNumber, [real.serialPage]],
  ['block limits', parseBlockLimits, [real.blockLimits]],
  ['mode parameters', (bytes) => parseTapeMode(parseModeParameters6(bytes)), [real.modeCompression, real.modeAll]],
  [
    'element addresses',
    (bytes) => {
      const page = parseModeParameters6(bytes).pages.get(0x1d);
      return page === undefined ? null : parseElementAddresses(page);
    },
    [real.modeElementAddresses],
  ],
  ['long position', parseLongPosition, [real.longPosition, hex('80' + '00'.repeat(31))]],
  ['short position', parseShortPosition, [real.shortPosition, hex('4001000000001000000010000000000000000000')]],
  ['element status', parseElementStatus, [real.drivesWithIdentifiers, real.slots, real.picker]],
];

/** A real answer, cut, extended, and with bytes overwritten. */
function damaged(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      sample: fc.constantFrom(...samples),
      cut: fc.nat(),
      tail: fc.uint8Array({ maxLength: 16 }),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    })
    .map(({ sample, cut, tail, edits }) => {
      const bytes = Uint8Array.from([...sample.subarray(0, cut % (sample.length + 1)), ...tail]);
      for (const [at, value] of edits) if (bytes.length > 0) bytes[at % bytes.length] = value;
      return bytes;
    });
}

for (const [name, decode, samples] of decoders) {
  test(`${name}: damaged real bytes give a sane value or one LifeboatError`, () => {
    fc.assert(
      fc.property(fc.oneof(damaged(samples), fc.uint8Array({ maxLength: 300 })), (bytes) => {
        try {
          assertSane(decode(guarded(bytes)));
        } catch (error) {
          if (!(error instanceof LifeboatError)) throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });
}

test('CDB fields: signed and unsigned, range checks that refuse instead of wrapping, printable text', () => {
  const bytes = new Uint8Array(8);
  writeSigned(bytes, 0, 3, -1, 'count');
  writeUnsigned(bytes, 3, 2, 0x1234, 'address');
  writeSigned(bytes, 5, 3, -(1 << 23), 'count');
  assert.equal(Buffer.from(bytes).toString('hex'), 'ffffff1234800000');
  assert.deepEqual([readSigned(bytes, 0, 3, 'x'), readUnsigned(bytes, 3, 2, 'x'), readSigned(bytes, 5, 3, 'x')], [-1, 0x1234, -(1 << 23)]);
  for (const [value, length, signed] of [
    [1 << 24, 3, false],
    [-1, 2, false],
    [1 << 23, 3, true],
    [0.5, 4, false],
    [2 ** 64, 8, false],
  ] as const) {
    assert.equal(fitsField(value, length, signed), false, `${value} in ${length}`);
    assert.throws(
      () => (signed ? writeSigned : writeUnsigned)(new Uint8Array(8), 0, length, value, 'count'),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request',
    );
  }
  assert.equal(ascii(hex('4142 09 43 2020 00 44'), 0, 9), 'AB?C');
  assert.throws(() => readUnsigned(bytes, 7, 2, 'the field'), /the field is malformed/);
  assert.throws(() => readUnsigned(hex('ffffffffffffffff'), 0, 8, 'x'), LifeboatError);
});
