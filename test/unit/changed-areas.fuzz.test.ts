// QueryChangedDiskAreas answers, random and damaged: a consistent set of answers gives exactly
// the blocks its areas touch; anything else gives a mask or a fallback sentence, never an
// exception past the SOAP client's own clear error for text that is not a SOAP answer at all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { changedBlocksFromAnswers, type ChangedArea } from '../../electron/drivers/vsphere/changed-areas.ts';
import { interpretResponse } from '../../electron/drivers/vsphere/soap-client.ts';
import { LifeboatError } from '../../electron/errors.ts';

const runs = { numRuns: 300 };
const SECTOR = 512;

type Page = { startOffset: number; length: number; areas: ChangedArea[] };

const answerXml = (page: Page): string =>
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  `<soapenv:Body><QueryChangedDiskAreasResponse xmlns="urn:vim25"><returnval><startOffset>${page.startOffset}</startOffset><length>${page.length}</length>` +
  page.areas.map((area) => `<changedArea><start>${area.start}</start><length>${area.length}</length></changedArea>`).join('') +
  '</returnval></QueryChangedDiskAreasResponse></soapenv:Body></soapenv:Envelope>';

/** A disk (in sectors), its changed areas (sorted cut points taken two by two) and the page
 * boundaries the host cuts its answer at; areas are listed in a shuffled order. */
const changes = fc
  .integer({ min: 1, max: 64 * 2048 })
  .chain((sectors) =>
    fc.record({
      sectors: fc.constant(sectors),
      cuts: fc.uniqueArray(fc.integer({ min: 0, max: sectors }), { maxLength: 40, size: 'medium' }),
      pageCuts: fc.uniqueArray(fc.integer({ min: 1, max: sectors }), { maxLength: 4 }),
      blockSectors: fc.constantFrom(1, 8, 128, 2048),
      seed: fc.nat(),
    }),
  )
  .map(({ sectors, cuts, pageCuts, blockSectors, seed }) => {
    const capacity = sectors * SECTOR;
    const at = (sector: number): number => sector * SECTOR;
    const pageEnds = [...new Set([...pageCuts.map(at), capacity])].filter((end) => end > 0).sort((a, b) => a - b);
    const points = [...new Set(cuts.map(at))].sort((a, b) => a - b);
    const areas: ChangedArea[] = [];
    for (let i = 0; i + 1 < points.length; i += 2)
      areas.push({ start: points[i] as number, length: (points[i + 1] as number) - (points[i] as number) });
    // An area never crosses a page: cut it where a page ends.
    const pages: Page[] = [];
    let pageStart = 0;
    for (const end of pageEnds) {
      const inside = areas
        .map((area) => ({ start: Math.max(area.start, pageStart), end: Math.min(area.start + area.length, end) }))
        .filter((piece) => piece.end > piece.start)
        .map((piece) => ({ start: piece.start, length: piece.end - piece.start }));
      // A deterministic shuffle: the host may list areas in any order.
      inside.sort((a, b) => ((a.start * 7919 + seed) % 101) - ((b.start * 7919 + seed) % 101));
      pages.push({ startOffset: pageStart, length: end - pageStart, areas: inside });
      pageStart = end;
    }
    return { capacity, blockSize: blockSectors * SECTOR, areas, pages };
  });

function answersOf(pages: Page[]): Map<number, string> {
  return new Map(pages.map((page) => [page.startOffset, answerXml(page)]));
}

/** Asks the given answer texts through the SOAP parser; an offset with none gets a fault. */
function asker(texts: Map<number, string>): (startOffset: number) => Promise<unknown> {
  return async (startOffset) => interpretResponse('https://esx01', 'QueryChangedDiskAreas', 200, texts.get(startOffset) ?? '');
}

test('consistent answers give exactly the blocks their areas touch, and the bytes they cover', async () => {
  await fc.assert(
    fc.asyncProperty(changes, async ({ capacity, blockSize, areas, pages }) => {
      const result = await changedBlocksFromAnswers(asker(answersOf(pages)), capacity, blockSize);
      assert.ok('mask' in result, 'fallback' in result ? result.fallback : '');
      const expected = new Uint8Array(Math.ceil(capacity / blockSize));
      for (const area of areas)
        for (let block = 0; block < expected.length; block++)
          if (area.start < (block + 1) * blockSize && area.start + area.length > block * blockSize) expected[block] = 1;
      assert.deepEqual(result.mask, expected);
      assert.equal(
        result.changedBytes,
        areas.reduce((sum, area) => sum + area.length, 0),
      );
    }),
    runs,
  );
});

const damage = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ maxLength: 6 }) }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    text: fc.constantFrom(
      '-1',
      '1e9',
      '0x10',
      '</changedArea>',
      '<changedArea><start>0</start>',
      '</returnval>',
      '<length>0</length>',
      '99999999999999999999',
    ),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), text: fc.constant('') }),
  fc.record({ kind: fc.constant('number' as const), at: fc.nat(), text: fc.constantFrom('0', '1', '512', '4294967296', '-65536') }),
);

function damaged(text: string, edit: { kind: 'replace' | 'cut' | 'number'; at: number; text: string }): string {
  if (edit.kind === 'cut') return text.slice(0, edit.at % (text.length + 1));
  if (edit.kind === 'number') {
    // Swap one of the answer's numbers for another.
    const numbers = [...text.matchAll(/>(\d+)</g)];
    const target = numbers[edit.at % Math.max(1, numbers.length)];
    if (!target || target.index === undefined) return text;
    return text.slice(0, target.index + 1) + edit.text + text.slice(target.index + 1 + (target[1] as string).length);
  }
  const at = edit.at % (text.length + 1);
  return text.slice(0, at) + edit.text + text.slice(at + edit.text.length);
}

test('damaged answers give a mask or a fallback sentence, never an exception', async () => {
  let masks = 0;
  let fallbacks = 0;
  await fc.assert(
    fc.asyncProperty(
      changes,
      fc.array(fc.tuple(fc.nat(), damage), { minLength: 1, maxLength: 4 }),
      async ({ capacity, blockSize, pages }, edits) => {
        const texts = answersOf(pages);
        const offsets = [...texts.keys()];
        for (const [which, edit] of edits) {
          const offset = offsets[which % offsets.length] as number;
          texts.set(offset, damaged(texts.get(offset) as string, edit));
        }
        let result;
        try {
          result = await changedBlocksFromAnswers(asker(texts), capacity, blockSize);
        } catch (error) {
          // Only the SOAP client's refusal of text that is not an answer (no XML, no body).
          assert.ok(error instanceof LifeboatError && error.code === 'unavailable', `unexpected ${String(error)}`);
          return;
        }
        if ('mask' in result) {
          masks++;
          assert.equal(result.mask.length, Math.ceil(capacity / blockSize));
          assert.ok(result.mask.every((byte) => byte === 0 || byte === 1));
          assert.ok(result.changedBytes >= 0 && result.changedBytes <= capacity);
        } else {
          fallbacks++;
          assert.match(result.fallback, /^the host's changed areas are inconsistent \(.+\): every block is read$/);
        }
      },
    ),
    runs,
  );
  assert.ok(fallbacks > 0, 'some damage is noticed');
  assert.ok(masks + fallbacks > 0);
});

test('any parsed value in place of the answer gives a mask or a fallback', async () => {
  await fc.assert(
    fc.asyncProperty(fc.anything(), fc.integer({ min: 1, max: 4096 }), async (returnval, sectors) => {
      const result = await changedBlocksFromAnswers(async () => returnval, sectors * SECTOR, 64 * 1024);
      assert.ok('mask' in result || /inconsistent/.test(result.fallback));
    }),
    runs,
  );
});
