// The parsers of tape bytes, fed random and mutated input: SIMH objects, labels, block frames and
// a tape's own catalog are parsed or refused with our own error, never anything else, quickly.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { encodeRecord, encodeTapeMark, readObject, type ImageReader } from '../../electron/drivers/tape/simh-tap.ts';
import {
  decodeFrameHeader,
  decodeLabelBlock,
  decodeTapeCatalog,
  encodeFrameHeader,
  encodeLabelBlock,
  encodeTapeCatalog,
  FrameKind,
  LOCATION_BYTES,
  mergeLocations,
  readLocation,
  writeLocation,
  type TapeLabel,
} from '../../electron/tape/tape-format.ts';
import type { Manifest } from '../../electron/repository/manifest.ts';

const runs = { numRuns: 400 };
const MAX_MS_PER_INPUT = 250;

async function onlyOurErrors(fn: () => unknown): Promise<void> {
  const started = performance.now();
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(error.message.length > 10);
  } finally {
    assert.ok(performance.now() - started < MAX_MS_PER_INPUT);
  }
}

function readerOf(bytes: Uint8Array): ImageReader {
  return async (position, length) => bytes.subarray(Math.min(position, bytes.length), Math.min(position + length, bytes.length));
}

/** Walks every object of an image, as a drive spacing forward would (bounded by its size). */
async function walk(bytes: Uint8Array): Promise<number> {
  let position = 0;
  let objects = 0;
  for (let guard = 0; guard <= bytes.length; guard++) {
    const object = await readObject(readerOf(bytes), position, { label: 'fuzz' });
    if (object.kind === 'end') return objects;
    assert.ok(object.next > position, 'every object moves the head forward');
    position = object.next;
    objects++;
  }
  throw new Error('the walk did not end');
}

test('SIMH records round-trip, odd lengths padded, marks counted', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constant(null)), { maxLength: 20 }),
      async (items) => {
        const image = Buffer.concat(items.map((item) => (item ? encodeRecord(item) : encodeTapeMark())));
        let position = 0;
        for (const item of items) {
          const object = await readObject(readerOf(image), position, { label: 'roundtrip' });
          if (item) {
            assert.equal(object.kind, 'record');
            assert.deepEqual(Buffer.from((object as { data: Uint8Array }).data), Buffer.from(item));
          } else assert.equal(object.kind, 'mark');
          position = (object as { next: number }).next;
        }
        assert.equal((await readObject(readerOf(image), position, { label: 'roundtrip' })).kind, 'end');
      },
    ),
    runs,
  );
});

test('random and damaged SIMH images are walked or refused with our own error', async () => {
  const good = Buffer.concat([encodeRecord(Buffer.alloc(64, 1)), encodeTapeMark(), encodeRecord(Buffer.alloc(33, 2)), encodeTapeMark()]);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => onlyOurErrors(() => walk(bytes))),
    runs,
  );
  await fc.assert(
    fc.asyncProperty(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(good.length), async (at, value, cut) => {
      const damaged = Buffer.from(good);
      damaged[at] = value;
      await onlyOurErrors(() => walk(damaged.subarray(0, cut)));
    }),
    runs,
  );
});

const label: TapeLabel = {
  format: 'lifeboat-tape',
  version: 1,
  barcode: 'LB0001L9',
  mediaSetId: randomUUID(),
  pool: 'weekly',
  sequence: 1,
  writtenAt: new Date(0).toISOString(),
  blockSize: 4096,
};

test('labels and block frames round-trip; damaged ones are refused', async () => {
  assert.deepEqual(decodeLabelBlock(encodeLabelBlock(label, 4096), label.barcode), label);
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => onlyOurErrors(() => decodeLabelBlock(bytes, 'LB0001L9'))),
    runs,
  );
  await fc.assert(
    fc.asyncProperty(
      fc.record({
        codec: fc.integer({ min: 0, max: 2 }),
        uniqueId: fc.nat(),
        rawLength: fc.integer({ min: 1, max: 1 << 20 }),
        storedLength: fc.integer({ min: 1, max: 1 << 20 }),
        sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      async (frame) => {
        const decoded = decodeFrameHeader(encodeFrameHeader({ kind: FrameKind.block, ...frame }), 'frame');
        assert.deepEqual(
          { ...decoded, sha256: Buffer.from(decoded.sha256) },
          { kind: FrameKind.block, ...frame, sha256: Buffer.from(frame.sha256) },
        );
      },
    ),
    runs,
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 80 }), async (bytes) => onlyOurErrors(() => decodeFrameHeader(bytes, 'frame'))),
    runs,
  );
});

function manifest(blocks: number): Manifest {
  return {
    format: 'lifeboat-point',
    version: 1,
    id: randomUUID(),
    vmId: 'vm-1',
    vmName: 'vm',
    sequence: 1,
    kind: 'full',
    parentId: null,
    createdAt: new Date(0).toISOString(),
    blockSize: 1024,
    vmConfig: { fileName: 'vm.vmx', text: 'displayName = "vm"\n' },
    disks: [
      {
        key: 'scsi0:0',
        fileName: 'vm.vmdk',
        capacity: blocks * 1024,
        mapFile: 'disk-0.map',
        mapSha256: '0'.repeat(64),
        mapEntries: blocks,
        sourceFormat: 'raw',
      },
    ],
    dataFile: { name: 'data.lbd', size: 0 },
    stats: { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 },
  };
}

test("a tape's catalog round-trips, and damaged ones are refused", async () => {
  const maps = Buffer.alloc(8 * 4);
  for (let i = 0; i < 8; i++) maps.writeUInt32LE(i % 3, i * 4);
  const locations = Buffer.alloc(2 * LOCATION_BYTES);
  writeLocation(locations, 1, { tape: 2, file: 3, offset: 2 ** 40 + 5, storedLength: 777 });
  const encoded = encodeTapeCatalog(label, [{ manifest: manifest(8), uniqueBlocks: 2, storedBytes: 777, maps, locations }]);
  const decoded = decodeTapeCatalog(encoded, 'catalog');
  assert.deepEqual(readLocation(decoded.copies[0]?.locations as Buffer, 1), { tape: 2, file: 3, offset: 2 ** 40 + 5, storedLength: 777 });
  const merged = Buffer.alloc(2 * LOCATION_BYTES);
  mergeLocations(merged, decoded.copies[0]?.locations as Buffer);
  assert.equal(readLocation(merged, 1).tape, 2);
  assert.equal(readLocation(merged, 0).tape, 0, 'unknown stays unknown');
  await fc.assert(
    fc.asyncProperty(fc.nat(encoded.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(encoded.length), async (at, value, cut) => {
      const damaged = Buffer.from(encoded);
      damaged[at] = value;
      await onlyOurErrors(() => decodeTapeCatalog(damaged.subarray(0, cut), 'catalog'));
    }),
    runs,
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) =>
      onlyOurErrors(() => decodeTapeCatalog(Buffer.from(bytes), 'catalog')),
    ),
    runs,
  );
});
