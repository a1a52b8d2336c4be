// Sealed blocks, key files and recovery keys on random and damaged input: our own clear error,
// never a crash, never a block that opens with a wrong key or after a flipped bit.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { sealBlock, unsealBlock } from '../../electron/repository/block-cipher.ts';
import { fromRecoveryKey, KeyFile, newChainKey, recoveryKeyText, unwrapChainKey } from '../../electron/repository/chain-key.ts';
import { Codec, compressBlock, ENCRYPTED_CODEC } from '../../electron/repository/codec.ts';
import { decodeBlockTask } from '../../electron/workers/decode-block.ts';

function refusedWith(code: string, run: () => unknown): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, String(error));
    assert.equal(error.code, code);
    return;
  }
  assert.fail('it was accepted');
}

test('a sealed block opens only with its key, its hash and every bit as written', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 4096 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      fc.uint8Array({ maxLength: 100 }),
      (raw, key, at, flip, random) => {
        const sha256 = createHash('sha256').update(raw).digest();
        const compressed = compressBlock(raw, Codec.deflate);
        const sealed = sealBlock(compressed.payload, key, sha256);
        // As a block worker opens it for a reader (decode-block).
        const open = (dataKey: Uint8Array | null): Uint8Array =>
          decodeBlockTask({
            type: 'decode-block',
            payload: sealed,
            codec: compressed.codec | ENCRYPTED_CODEC,
            rawLength: raw.length,
            sha256,
            dataKey,
          }).data;
        assert.deepEqual(Buffer.from(open(key)), Buffer.from(raw));
        const damaged = Buffer.from(sealed);
        damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ flip;
        refusedWith('corrupt-backup', () => unsealBlock(damaged, key, sha256));
        refusedWith('corrupt-backup', () => unsealBlock(sealed, randomBytes(32), sha256));
        refusedWith('corrupt-backup', () => unsealBlock(sealed, key, createHash('sha256').update('another block').digest()));
        refusedWith('corrupt-backup', () => unsealBlock(random, key, sha256));
        refusedWith('unauthorized', () => open(null));
      },
    ),
    { numRuns: 300 },
  );
});

test('recovery key files and key files from elsewhere: parsed or refused with our own error', async () => {
  const { key, file } = await newChainKey('a long enough password');
  assert.deepEqual(fromRecoveryKey(file, recoveryKeyText(key)).dataKey, key.dataKey);
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.json(), fc.constantFrom(recoveryKeyText(key))),
      fc.nat(),
      fc.integer({ min: 1, max: 127 }),
      (text, at, flip) => {
        const mutated =
          text.length === 0
            ? text
            : text.slice(0, at % text.length) +
              String.fromCharCode(text.charCodeAt(at % text.length) ^ flip) +
              text.slice((at % text.length) + 1);
        for (const candidate of [text, mutated]) {
          try {
            const opened = fromRecoveryKey(file, candidate);
            assert.deepEqual(opened.dataKey, key.dataKey, 'only the right key opens');
          } catch (error) {
            assert.ok(error instanceof LifeboatError, String(error));
          }
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(candidate);
          } catch {
            // not JSON: the key file reader refuses it the same way
          }
          assert.equal(KeyFile.safeParse(parsed).success, candidate === JSON.stringify(file));
        }
      },
    ),
    { numRuns: 500 },
  );
  await assert.rejects(unwrapChainKey(file, 'the wrong password'), { code: 'unauthorized' });
  await assert.rejects(
    unwrapChainKey({ ...file, wrap: { ...file.wrap, key: Buffer.alloc(32).toString('base64') } }, 'a long enough password'),
    { code: 'unauthorized' },
  );
  assert.deepEqual((await unwrapChainKey(file, 'a long enough password')).dataKey, key.dataKey);
});
