// The iSCSI parsers on real PDUs recorded from tgt, split, packed, truncated, bit-flipped and given
// absurd lengths: the same PDUs back, or one LifeboatError — never a TypeError or RangeError, never
// an allocation sized by a damaged length field.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { decodeChapBinary, parseChapIdentifier } from '../../electron/drivers/scsi/iscsi/chap.ts';
import { targetsOf } from '../../electron/drivers/scsi/iscsi/discovery.ts';
import { parseReportLuns } from '../../electron/drivers/scsi/iscsi/luns.ts';
import { Negotiation } from '../../electron/drivers/scsi/iscsi/params.ts';
import {
  BHS_LENGTH,
  encodePdu,
  iscsiCrc,
  MAX_SEGMENT,
  PduDecoder,
  SESSION_MAX_SEGMENT,
  type Pdu,
} from '../../electron/drivers/scsi/iscsi/pdu.ts';
import { parseTextKeys } from '../../electron/drivers/scsi/iscsi/text.ts';
import { TGT_PDUS } from '../helpers/iscsi-captured.ts';

const recorded = Object.values(TGT_PDUS)
  .flat()
  .map((hex) => Buffer.from(hex, 'hex'));
const stream = Buffer.concat(recorded);
const textSegments = [...TGT_PDUS.loginResponse!, ...TGT_PDUS.textResponseSendTargets!].map(
  (hex) => decodeOne(Buffer.from(hex, 'hex')).data,
);
const reportLuns = decodeOne(Buffer.from(TGT_PDUS.dataIn![0]!, 'hex')).data;

function decodeOne(bytes: Buffer): Pdu {
  const [pdu] = new PduDecoder().push(bytes);
  assert.ok(pdu);
  return pdu;
}

/** Runs `parse`; the only failure allowed is a LifeboatError. */
function validOrRefused<T>(parse: () => T): T | null {
  try {
    return parse();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `not a LifeboatError: ${String(error)}`);
    return null;
  }
}

const damage = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function damaged(bytes: Buffer, { flips, cut }: { flips: [number, number][]; cut: number | undefined }): Buffer {
  const copy = Buffer.from(bytes);
  for (const [at, flip] of flips) copy[at % copy.length] = (copy[at % copy.length] as number) ^ flip;
  return cut === undefined ? copy : copy.subarray(0, cut % (copy.length + 1));
}

test('the decoder gives back the recorded PDUs however TCP splits or packs them', () => {
  const whole = new PduDecoder().push(stream);
  assert.equal(whole.length, recorded.length);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }), (sizes) => {
      const decoder = new PduDecoder();
      const pdus: Pdu[] = [];
      for (let at = 0, i = 0; at < stream.length; i += 1) {
        const size = sizes[i % sizes.length] as number;
        pdus.push(...decoder.push(stream.subarray(at, at + size)));
        at += size;
      }
      assert.equal(decoder.buffered, 0);
      assert.deepEqual(
        pdus.map((pdu) => [pdu.bhs.toString('hex'), pdu.data.toString('hex')]),
        whole.map((pdu) => [pdu.bhs.toString('hex'), pdu.data.toString('hex')]),
      );
    }),
  );
});

test('a damaged stream decodes to bounded PDUs or one LifeboatError', () => {
  fc.assert(
    fc.property(damage, fc.integer({ min: 1, max: 300 }), (how, chunk) => {
      const bytes = damaged(stream, how);
      const decoder = new PduDecoder(SESSION_MAX_SEGMENT);
      validOrRefused(() => {
        for (let at = 0; at < bytes.length; at += chunk) {
          for (const pdu of decoder.push(bytes.subarray(at, at + chunk))) {
            assert.equal(pdu.bhs.length, BHS_LENGTH);
            assert.ok(pdu.data.length < MAX_SEGMENT);
          }
        }
        assert.ok(decoder.buffered <= bytes.length);
      });
    }),
  );
});

test("iSCSI's CRC32C: RFC 7143 B.4's examples, little-endian on the wire", () => {
  const bytes = (fill: (i: number) => number): Buffer => Buffer.from(Array.from({ length: 32 }, (_, i) => fill(i)));
  assert.equal(iscsiCrc(bytes(() => 0)), 0x8a9136aa); // sent as aa 36 91 8a
  assert.equal(iscsiCrc(bytes(() => 0xff)), 0x62a8ab43);
  assert.equal(iscsiCrc(bytes((i) => i)), 0x46dd794e);
  assert.equal(iscsiCrc(bytes((i) => 31 - i)), 0x113fdb5c);
});

test('with digests, the recorded PDUs come back whole, and any damage is refused, never passed on', () => {
  const digests = { header: true, data: true };
  const originals = new PduDecoder().push(stream);
  const guarded = Buffer.concat(originals.flatMap((pdu) => encodePdu(Buffer.from(pdu.bhs), pdu.data, digests)));
  const decoder = new PduDecoder(SESSION_MAX_SEGMENT);
  decoder.digests = digests;
  assert.equal(decoder.push(guarded).length, originals.length);
  fc.assert(
    fc.property(damage, (how) => {
      const fresh = new PduDecoder(SESSION_MAX_SEGMENT);
      fresh.digests = digests;
      const pdus = validOrRefused(() => fresh.push(damaged(guarded, how))) ?? [];
      for (const [index, pdu] of pdus.entries()) {
        const original = originals[index] as Pdu;
        assert.ok(pdu.bhs.equals(original.bhs) && pdu.data.equals(original.data), 'a damaged PDU got through');
      }
    }),
  );
});

test('an absurd DataSegmentLength is refused at once, before any data is waited for', () => {
  fc.assert(
    fc.property(fc.constantFrom(...recorded), fc.integer({ min: SESSION_MAX_SEGMENT + 1, max: 0xffffff }), (pdu, length) => {
      const header = Buffer.from(pdu.subarray(0, BHS_LENGTH));
      header[5] = length >>> 16;
      header.writeUInt16BE(length & 0xffff, 6);
      assert.throws(
        () => new PduDecoder(SESSION_MAX_SEGMENT).push(header),
        (error: unknown) => error instanceof LifeboatError && error.code === 'unavailable' && /data segment/.test(error.message),
      );
    }),
  );
});

test('text keys from tgt parse; damaged ones parse or are refused', () => {
  const first = parseTextKeys(textSegments[3] as Buffer);
  assert.ok(first.some(([key, value]) => key === 'InitialR2T' && value === 'Yes'));
  assert.equal(targetsOf(parseTextKeys(textSegments.at(-1) as Buffer))[0]?.name, 'iqn.2026-12.org.lifeboat.test:library');
  fc.assert(
    fc.property(fc.constantFrom(...textSegments), damage, (segment, how) => {
      const pairs = validOrRefused(() => parseTextKeys(damaged(segment, how)));
      if (!pairs) return;
      for (const [key, value] of pairs) {
        assert.ok(key.length >= 1 && key.length <= 63);
        assert.equal(typeof value, 'string');
      }
      validOrRefused(() => new Negotiation('127.0.0.1:3260', false).absorb(pairs));
      targetsOf(pairs);
    }),
  );
});

test('negotiation of damaged values: a number in range, Yes/No, or one LifeboatError', () => {
  const keys = [
    'MaxRecvDataSegmentLength',
    'MaxBurstLength',
    'FirstBurstLength',
    'InitialR2T',
    'ImmediateData',
    'HeaderDigest',
    'DataDigest',
    'ErrorRecoveryLevel',
    'DefaultTime2Wait',
    'MaxOutstandingR2T',
    'DataPDUInOrder',
    'X-Vendor',
  ];
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.constantFrom(...keys),
          fc.oneof(fc.string(), fc.constantFrom('Yes', 'No', 'None', 'CRC32C', 'Reject', '0', '512', '99999999999', '0x10')),
        ),
        { maxLength: 12 },
      ),
      fc.boolean(),
      (pairs, offered) => {
        const negotiation = new Negotiation('127.0.0.1:3260', false);
        if (offered) negotiation.offers();
        if (validOrRefused(() => negotiation.absorb(pairs)) === null) return;
        const params = negotiation.finish();
        assert.ok(params.maxSendDataSegment >= 512 && params.maxSendDataSegment < MAX_SEGMENT);
        assert.ok(params.firstBurstLength <= params.maxBurstLength && params.maxBurstLength >= 512);
      },
    ),
  );
});

test('REPORT LUNS data from tgt parses; damaged lists give LUNs in range or one LifeboatError', () => {
  assert.deepEqual(parseReportLuns(reportLuns).luns, [0, 1, 2]);
  fc.assert(
    fc.property(damage, (how) => {
      const parsed = validOrRefused(() => parseReportLuns(damaged(reportLuns, how)));
      for (const lun of parsed?.luns ?? []) assert.ok(Number.isInteger(lun) && lun >= 0 && lun <= 16383);
    }),
  );
});

test('CHAP values: hex or base64 binary and a byte identifier, else one LifeboatError', () => {
  assert.deepEqual(decodeChapBinary('0x0aff'), Buffer.from([0x0a, 0xff]));
  assert.deepEqual(decodeChapBinary('0bCv8='), Buffer.from([0x0a, 0xff]));
  assert.equal(parseChapIdentifier('200'), 200);
  fc.assert(
    fc.property(fc.string(), (value) => {
      validOrRefused(() => decodeChapBinary(value));
      const identifier = validOrRefused(() => parseChapIdentifier(value));
      if (identifier !== null) assert.ok(identifier >= 0 && identifier <= 255);
    }),
  );
});
