// The trust files Lifeboat reads back, fed damaged real input: audit anchors, the secret
// store's description, and secrets key files. Each is parsed or refused with our own error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAnchors } from '../../electron/catalog/audit-anchors.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { parseStoreInfo, keyFileSealer } from '../../electron/secrets/secret-store.ts';
import { parseKeyBytes } from '../../electron/secrets/store-key.ts';

const runs = { numRuns: 400 };

function onlyOurErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(error.message.length > 10);
  }
}

/** Bytes with a few positions overwritten, cut short, or grown. */
const mutated = (valid: Buffer) =>
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat({ max: Math.max(valid.length - 1, 0) }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat({ max: valid.length + 8 }),
    )
    .map(([edits, length]) => {
      const bytes = Buffer.concat([valid, Buffer.alloc(8, 0x0a)]);
      for (const [at, value] of edits) bytes[at] = value;
      return bytes.subarray(0, length);
    });

const hash = () => randomBytes(32).toString('hex');
const realAnchors = Buffer.from([1, 2, 3, 57].map((id) => `${id} ${hash()} 2026-12-02T05:0${id % 10}:00.000Z\n`).join(''));

test('audit anchors: a real file parses; damaged ones give our error, and what parses keeps rising ids', () => {
  assert.deepEqual(
    parseAnchors(realAnchors.toString('utf8'), 'anchors.log').map((anchor) => anchor.id),
    [1, 2, 3, 57],
  );
  fc.assert(
    fc.property(mutated(realAnchors), (bytes) =>
      onlyOurErrors(() => {
        const anchors = parseAnchors(bytes.toString('utf8'), 'anchors.log');
        for (let i = 1; i < anchors.length; i++) assert.ok((anchors[i]?.id ?? 0) > (anchors[i - 1]?.id ?? 0));
      }),
    ),
    runs,
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 400 }), (text) => onlyOurErrors(() => parseAnchors(text, 'anchors.log'))),
    runs,
  );
});

test('secret store description: a real one parses; damaged ones give our error', () => {
  const homeId = '4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
  const real = Buffer.from(
    JSON.stringify({
      format: 'lifeboat-secret-store',
      version: 1,
      sealedBy: 'key',
      keySource: 'passphrase',
      homeId,
      salt: randomBytes(16).toString('base64'),
      check: keyFileSealer(randomBytes(32)).seal('x').toString('base64'),
    }),
  );
  assert.equal(parseStoreInfo(real.toString('utf8'), 'store.json').keySource, 'passphrase');
  fc.assert(
    fc.property(mutated(real), (bytes) => onlyOurErrors(() => parseStoreInfo(bytes.toString('utf8'), 'store.json'))),
    runs,
  );
  fc.assert(
    fc.property(fc.json(), (text) => onlyOurErrors(() => parseStoreInfo(text, 'store.json'))),
    runs,
  );
});

test('secrets key files: raw and base64 keys parse to 32 bytes; anything else is our error', () => {
  const key = randomBytes(32);
  assert.deepEqual(parseKeyBytes(key, 'k'), key);
  assert.deepEqual(parseKeyBytes(Buffer.from(`${key.toString('base64')}\n`), 'k'), key);
  for (const valid of [key, Buffer.from(`${key.toString('base64')}\n`)]) {
    fc.assert(
      fc.property(mutated(valid), (bytes) => onlyOurErrors(() => assert.equal(parseKeyBytes(bytes, 'k').length, 32))),
      runs,
    );
  }
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => onlyOurErrors(() => parseKeyBytes(Buffer.from(bytes), 'k', false))),
    runs,
  );
});
