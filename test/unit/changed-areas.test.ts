// The host's answers to QueryChangedDiskAreas, as ESXi sends them (a DiskChangeInfo per call:
// startOffset, length, changedArea[] of start and length, in bytes), read through the SOAP
// client's own response parser into a mask of the backup's blocks, or into a fallback sentence
// when the answers cannot be trusted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedBlocksFromAnswers, readDiskChangeInfo, type ChangedBlocks } from '../../electron/drivers/vsphere/changed-areas.ts';
import { interpretResponse } from '../../electron/drivers/vsphere/soap-client.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

const envelope = (returnval: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"\n' +
  ' xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"\n' +
  ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"\n' +
  ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' +
  '<soapenv:Body>\n' +
  `<QueryChangedDiskAreasResponse xmlns="urn:vim25">${returnval}</QueryChangedDiskAreasResponse>\n` +
  '</soapenv:Body>\n' +
  '</soapenv:Envelope>';

/** ESXi's answer for a 16 GiB disk with CBT since the last backup: two pages (ESXi cuts its
 * answer when the area list grows long), areas of 64 KiB CBT granularity, in disk order. */
const PAGED_16_GIB = new Map<number, string>([
  [
    0,
    envelope(
      '<returnval><startOffset>0</startOffset><length>8589934592</length>' +
        '<changedArea><start>0</start><length>65536</length></changedArea>' +
        '<changedArea><start>1048576</start><length>196608</length></changedArea>' +
        '<changedArea><start>4294901760</start><length>131072</length></changedArea>' +
        '</returnval>',
    ),
  ],
  [
    8 * GIB,
    envelope(
      '<returnval><startOffset>8589934592</startOffset><length>8589934592</length>' +
        '<changedArea><start>17179803648</start><length>65536</length></changedArea>' +
        '</returnval>',
    ),
  ],
]);

/** Asks the recorded answers, through the SOAP client's response parser; counts the calls. */
function recorded(answers: Map<number, string> | ((startOffset: number) => string)): {
  ask: (startOffset: number) => Promise<unknown>;
  asked: number[];
} {
  const asked: number[] = [];
  const ask = async (startOffset: number): Promise<unknown> => {
    asked.push(startOffset);
    const text = typeof answers === 'function' ? answers(startOffset) : answers.get(startOffset);
    assert.ok(text !== undefined, `no recorded answer for ${startOffset}`);
    return interpretResponse('https://esx01', 'QueryChangedDiskAreas', 200, text);
  };
  return { ask, asked };
}

function blocksOf(result: ChangedBlocks): number[] {
  assert.ok('mask' in result, 'fallback' in result ? result.fallback : '');
  return [...result.mask.keys()].filter((index) => result.mask[index] === 1);
}

test('a paged answer becomes one byte per block: 1 where any changed byte lies', async () => {
  const { ask, asked } = recorded(PAGED_16_GIB);
  const result = await changedBlocksFromAnswers(ask, 16 * GIB, MIB);
  assert.deepEqual(asked, [0, 8 * GIB]);
  // 0+64K → block 0; 1M+192K → block 1; 4G-64K+128K straddles blocks 4095 and 4096; the last 64 KiB → block 16383.
  assert.deepEqual(blocksOf(result), [0, 1, 4095, 4096, 16 * 1024 - 1]);
  assert.ok('mask' in result);
  assert.equal(result.mask.length, 16 * 1024);
  assert.equal(result.changedBytes, 65536 + 196608 + 131072 + 65536);
});

test('no changed area at all (an idle VM): every block is kept from the parent', async () => {
  const idle = envelope('<returnval><startOffset>0</startOffset><length>2147483648</length></returnval>');
  const result = await changedBlocksFromAnswers(recorded(() => idle).ask, 2 * GIB, MIB);
  assert.deepEqual(blocksOf(result), []);
  assert.ok('mask' in result && result.changedBytes === 0);
});

test('a last block shorter than the block size, and areas in any order', async () => {
  const capacity = 10 * MIB + 512;
  const answer = envelope(
    `<returnval><startOffset>0</startOffset><length>${capacity}</length>` +
      `<changedArea><start>${10 * MIB}</start><length>512</length></changedArea>` +
      `<changedArea><start>${2 * MIB}</start><length>${MIB}</length></changedArea>` +
      '</returnval>',
  );
  const result = await changedBlocksFromAnswers(recorded(() => answer).ask, capacity, MIB);
  assert.deepEqual(blocksOf(result), [2, 10]);
});

test('answers that cannot be trusted give a fallback naming what is wrong', async () => {
  const capacity = 4 * MIB;
  const cases: [string, string, RegExp][] = [
    [
      'overlapping areas',
      `<returnval><startOffset>0</startOffset><length>${capacity}</length><changedArea><start>0</start><length>131072</length></changedArea><changedArea><start>65536</start><length>65536</length></changedArea></returnval>`,
      /areas overlap at 65536/,
    ],
    [
      'an area beyond the disk',
      `<returnval><startOffset>0</startOffset><length>${2 * capacity}</length><changedArea><start>${capacity}</start><length>65536</length></changedArea></returnval>`,
      /ends beyond the disk's 4194304 bytes/,
    ],
    [
      'an area outside its answer',
      `<returnval><startOffset>0</startOffset><length>${MIB}</length><changedArea><start>${2 * MIB}</start><length>65536</length></changedArea></returnval>`,
      /outside its answer's 0\+1048576/,
    ],
    ['an answer that does not advance', '<returnval><startOffset>0</startOffset><length>0</length></returnval>', /does not advance/],
    [
      'an answer for another offset',
      `<returnval><startOffset>512</startOffset><length>${capacity}</length></returnval>`,
      /asked from 0, the answer starts at 512/,
    ],
    ['a negative length', '<returnval><startOffset>0</startOffset><length>-1</length></returnval>', /valid startOffset and length/],
    [
      'an area without a length',
      `<returnval><startOffset>0</startOffset><length>${capacity}</length><changedArea><start>0</start></changedArea></returnval>`,
      /area without a valid start and length/,
    ],
    [
      'an empty area',
      `<returnval><startOffset>0</startOffset><length>${capacity}</length><changedArea><start>0</start><length>0</length></changedArea></returnval>`,
      /an empty area at 0/,
    ],
    ['no returnval', '', /without a DiskChangeInfo/],
  ];
  for (const [what, returnval, reason] of cases) {
    const result = await changedBlocksFromAnswers(recorded(() => envelope(returnval)).ask, capacity, MIB);
    assert.ok('fallback' in result, `${what}: a mask came back`);
    assert.match(result.fallback, /^the host's changed areas are inconsistent \(/, what);
    assert.match(result.fallback, reason, what);
    assert.match(result.fallback, /every block is read$/, what);
  }
});

test('answers that creep forward stop after a bounded number of calls', async () => {
  // 512 bytes an answer would take 8192 calls for 4 MiB; the bound is 4 + 16.
  const { ask, asked } = recorded((startOffset) =>
    envelope(`<returnval><startOffset>${startOffset}</startOffset><length>512</length></returnval>`),
  );
  const result = await changedBlocksFromAnswers(ask, 4 * MIB, MIB);
  assert.ok('fallback' in result);
  assert.match(result.fallback, /20 answers cover only 10240 of 4194304 bytes/);
  assert.equal(asked.length, 20);
});

test('readDiskChangeInfo takes one area or many, and numbers only in decimal', () => {
  assert.deepEqual(readDiskChangeInfo({ startOffset: '0', length: '1024', changedArea: { start: '0', length: '512' } }), {
    startOffset: 0,
    length: 1024,
    changedAreas: [{ start: 0, length: 512 }],
  });
  assert.equal(typeof readDiskChangeInfo({ startOffset: '0x10', length: '1024' }), 'string');
  assert.equal(typeof readDiskChangeInfo({ startOffset: '0', length: '99999999999999999' }), 'string');
  assert.equal(typeof readDiskChangeInfo('text'), 'string');
});
