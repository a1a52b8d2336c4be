// What listing a large folder without a promise per entry relies on: describeEach takes answers
// given at once and promised alike (a damaged entry becomes one unreadable entry either way, a
// defect is not hidden), and XFS bigtime stamps read without BigInt give the same instant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { describeEach, type FsEntry } from '../../electron/filesystems/file-system.ts';
import { bigtimeMs } from '../../electron/filesystems/xfs/inode.ts';

const entry = (name: string): FsEntry => ({ name, type: 'file', size: name.length, mtime: null, mode: 0o644 });

test('describeEach: answers at once and promised, in folder order; damage met either way is one unreadable entry', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom('now', 'later', 'throws', 'rejects', 'streams'), { maxLength: 40 }), async (kinds) => {
      const names = kinds.map((kind, index) => ({ name: `${kind}-${index}`, kind }));
      const listed = await describeEach(names, ({ name, kind }) => {
        if (kind === 'now') return entry(name);
        if (kind === 'later') return Promise.resolve(entry(name));
        if (kind === 'streams') return [entry(name), entry(`${name}:s`)];
        const damage = new LifeboatError('corrupt-disk', `${name} is damaged`);
        if (kind === 'throws') throw damage;
        return Promise.reject(damage);
      });
      const expected = names.flatMap(({ name, kind }) => (kind === 'streams' ? [name, `${name}:s`] : [name]));
      assert.deepEqual(
        listed.map((found) => found.name),
        expected,
      );
      for (const found of listed) {
        const damaged = found.name.startsWith('throws') || found.name.startsWith('rejects');
        assert.equal(found.problem, damaged ? `${found.name} is damaged` : undefined);
        assert.equal(found.type, damaged ? 'other' : 'file');
      }
    }),
  );
});

test('describeEach: a defect (not damage) stops the listing, given at once or promised', async () => {
  await assert.rejects(
    describeEach([{ name: 'a' }], () => {
      throw new TypeError('a defect');
    }),
    TypeError,
  );
  await assert.rejects(
    describeEach([{ name: 'a' }], () => Promise.reject(new TypeError('a defect'))),
    TypeError,
  );
});

test('XFS bigtime: milliseconds from the two words equal ⌊nanoseconds / 10^6⌋ - 2^31 s computed in BigInt', () => {
  const byBigInt = (high: number, low: number): number => Number(((BigInt(high) << 32n) + BigInt(low)) / 1_000_000n - 2n ** 31n * 1000n);
  fc.assert(
    fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (high, low) => {
      assert.equal(bigtimeMs(high, low), byBigInt(high, low));
    }),
    { numRuns: 5000 },
  );
  for (const [high, low] of [
    [0, 0],
    [0xffffffff, 0xffffffff],
    [0x1d1a94a2, 0],
    [0, 999_999],
    [1, 0],
  ] as const)
    assert.equal(bigtimeMs(high, low), byBigInt(high, low));
});
