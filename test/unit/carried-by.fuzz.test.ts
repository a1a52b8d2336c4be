// The job detail's "carried by" line reads the job result's free-form `movers` record: a result
// as the engine writes it gives every disk with its movers in order; any other JSON (damaged,
// older engines, other job kinds) gives only the well-formed disks, never an exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { carriedBy } from '../../renderer/views/carried-by.ts';

const runs = { numRuns: 500 };
const diskKey = fc.stringMatching(/^(scsi|sata|ide|nvme)[0-3]:[0-9]{1,2}$/);
const moverName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);

test('a result as the engine writes it: each disk with its movers, a reassignment in order', () => {
  assert.deepEqual(carriedBy({ movers: { 'scsi0:0': ['mover-a', 'mover-b'], 'scsi0:1': ['mover-b'] }, bottleneck: 'network' }), [
    { disk: 'scsi0:0', movers: ['mover-a', 'mover-b'] },
    { disk: 'scsi0:1', movers: ['mover-b'] },
  ]);
  assert.deepEqual(carriedBy(null), []);
  assert.deepEqual(carriedBy({ bottleneck: 'target write' }), [], 'a job the engine carried itself names no mover');
});

test('well-formed records round-trip', () => {
  fc.assert(
    fc.property(fc.dictionary(diskKey, fc.array(moverName, { minLength: 1, maxLength: 4 })), (movers) => {
      const json = JSON.parse(JSON.stringify({ movers })) as Record<string, unknown>;
      assert.deepEqual(
        carriedBy(json),
        Object.entries(movers).map(([disk, names]) => ({ disk, movers: names })),
      );
    }),
    runs,
  );
});

test('damaged results: only well-formed disks come out, nothing throws', () => {
  const damagedEntry = fc.oneof(fc.array(moverName, { minLength: 1, maxLength: 3 }), fc.jsonValue());
  fc.assert(
    fc.property(
      fc.oneof(fc.jsonValue(), fc.dictionary(diskKey, damagedEntry), fc.array(fc.array(moverName)), fc.constant(null)),
      fc.dictionary(fc.string(), fc.jsonValue()),
      (movers, rest) => {
        const result = JSON.parse(JSON.stringify({ ...rest, movers })) as Record<string, unknown>;
        for (const { disk, movers: names } of carriedBy(result)) {
          assert.equal(typeof disk, 'string');
          assert.ok(names.length > 0 && names.every((name) => typeof name === 'string'));
        }
      },
    ),
    runs,
  );
});
