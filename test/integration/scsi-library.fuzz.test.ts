// Properties of what the SCSI library concludes from what devices report: the match of drives
// to the changer's data-transfer elements from damaged identifiers and serials (tgt's real ones,
// cut and mutated), and the position count of a drive over any sequence of blocks and filemarks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ScsiDevice } from '../../electron/drivers/scsi/scsi-device.ts';
import { matchByIdentifier, matchByOrder, type UnitInfo } from '../../electron/drivers/scsi/library-discovery.ts';
import type { ElementStatus } from '../../electron/drivers/scsi/smc.ts';
import { PositionBook, type TapePosition } from '../../electron/drivers/scsi/tape-position.ts';

// What tgt 1.0.85 reports: DVCID identifiers of its drives, and their VPD 80h serials.
const REAL_IDENTIFIERS = ['IET     VIRTUAL-TAPE    beaf11', 'IET     VIRTUAL-TAPE    beaf12', 'IET     VIRTUAL-TAPE    beaf1'];
const REAL_SERIALS = ['beaf11', 'beaf12', 'beaf13'];

/** A real string, cut short, with a few characters replaced, or left alone. */
function damaged(real: string[]): fc.Arbitrary<string | null> {
  return fc.oneof(
    fc.constantFrom(...real),
    fc.tuple(fc.constantFrom(...real), fc.nat(40)).map(([text, cut]) => text.slice(0, cut)),
    fc
      .tuple(fc.constantFrom(...real), fc.array(fc.tuple(fc.nat(40), fc.string({ minLength: 1, maxLength: 1 })), { maxLength: 4 }))
      .map(([text, edits]) => edits.reduce((out, [at, char]) => out.slice(0, at) + char + out.slice(at + 1), text)),
    fc.constant(null),
  );
}

function element(address: number, identifier: string | null): ElementStatus {
  return { type: 'data-transfer', address, full: false, barcode: null, sourceAddress: null, exception: null, accessible: true, identifier };
}

function drive(lun: number, serial: string | null): UnitInfo & { device: ScsiDevice } {
  const device: ScsiDevice = { address: `lun ${lun}`, execute: () => Promise.reject(new Error('not used')) };
  return {
    peripheralType: 1,
    qualifier: 0,
    removable: true,
    vendor: 'IET',
    product: 'VIRTUAL-TAPE',
    revision: '0001',
    address: device.address,
    serial,
    device,
  };
}

test('drives are matched to elements one to one, by a serial the identifier carries, or not at all', () => {
  fc.assert(
    fc.property(
      fc.array(damaged(REAL_IDENTIFIERS), { maxLength: 6 }),
      fc.array(damaged(REAL_SERIALS), { maxLength: 6 }),
      (ids, serials) => {
        const elements = ids.map((identifier, i) => element(i + 1, identifier));
        const drives = serials.map((serial, i) => drive(i + 1, serial));
        const matched = matchByIdentifier(elements, drives);
        if (matched !== null) {
          assert.equal(matched.length, elements.length, 'every element names a drive');
          assert.equal(new Set(matched.map((m) => m.device)).size, matched.length, 'no drive twice');
          for (const m of matched) {
            const identifier = elements.find((e) => e.address === m.element)?.identifier ?? '';
            assert.ok(m.serial && identifier.includes(m.serial.trim()));
          }
        }
        const ordered = matchByOrder(elements, drives);
        assert.equal(ordered.length, Math.min(elements.length, drives.length));
        assert.deepEqual(
          ordered.map((m) => m.element),
          elements.slice(0, ordered.length).map((e) => e.address),
        );
      },
    ),
  );
});

test("tgt's own identifiers map its drives by serial", () => {
  const matched = matchByIdentifier(
    [element(1, REAL_IDENTIFIERS[0] ?? ''), element(2, REAL_IDENTIFIERS[1] ?? '')],
    [drive(2, 'beaf12'), drive(1, 'beaf11')],
  );
  assert.deepEqual(
    matched?.map((m) => [m.element, m.serial]),
    [
      [1, 'beaf11'],
      [2, 'beaf12'],
    ],
  );
  // The last identifier cut short (as tgt sends it): no partial mapping.
  assert.equal(
    matchByIdentifier([element(1, REAL_IDENTIFIERS[0] ?? ''), element(2, null)], [drive(1, 'beaf11'), drive(2, 'beaf12')]),
    null,
  );
});

test('the position count agrees with the objects passed, and locate targets are the objects counted', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom<'block' | 'filemark'>('block', 'block', 'block', 'filemark'), { maxLength: 200 }), (objects) => {
      const book = new PositionBook();
      let position: TapePosition = book.origin();
      const seen: TapePosition[] = [position];
      for (const kind of objects) {
        position = book.after(position, kind);
        seen.push(position);
      }
      assert.equal(position.object, objects.length);
      assert.equal(position.file, objects.filter((kind) => kind === 'filemark').length);
      for (const at of seen) assert.equal(book.objectOf(at.file, at.block), at.object);
    }),
  );
});
