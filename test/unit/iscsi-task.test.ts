// A command's data on the wire: immediate and unsolicited amounts under each ImmediateData and
// InitialR2T setting, and Data-Out sequences that cover exactly the asked bytes in allowed pieces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defaultParams } from '../../electron/drivers/scsi/iscsi/params.ts';
import { dataOutSegments, unsolicitedData } from '../../electron/drivers/scsi/iscsi/task.ts';

test('immediate and unsolicited data stay within FirstBurstLength and the target segment limit', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.boolean(),
      fc.integer({ min: 512, max: 1 << 20 }),
      fc.integer({ min: 512, max: 1 << 20 }),
      fc.nat(4 << 20),
      (immediateData, initialR2T, firstBurstLength, maxSendDataSegment, length) => {
        const params = { ...defaultParams(), immediateData, initialR2T, firstBurstLength, maxSendDataSegment };
        const { immediate, unsolicited } = unsolicitedData(params, length);
        assert.ok(immediate <= Math.min(length, firstBurstLength, maxSendDataSegment));
        assert.equal(immediate === 0, !immediateData || length === 0);
        assert.ok(unsolicited >= immediate && unsolicited <= Math.min(length, firstBurstLength));
        if (initialR2T) assert.equal(unsolicited, immediate);
        else assert.equal(unsolicited, Math.min(length, firstBurstLength));
      },
    ),
  );
});

test('a Data-Out sequence covers its bytes once, in order, in pieces the target accepts, F on the last', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 512, max: 300_000 }),
      fc.nat(1 << 20),
      fc.integer({ min: 1, max: 3 << 20 }),
      (maxSendDataSegment, offset, length) => {
        const segments = [...dataOutSegments({ ...defaultParams(), maxSendDataSegment }, offset, length)];
        let at = offset;
        for (const [index, segment] of segments.entries()) {
          assert.equal(segment.at, at);
          assert.equal(segment.dataSN, index);
          assert.ok(segment.size > 0 && segment.size <= maxSendDataSegment);
          assert.equal(segment.final, index === segments.length - 1);
          at += segment.size;
        }
        assert.equal(at, offset + length);
      },
    ),
  );
});
