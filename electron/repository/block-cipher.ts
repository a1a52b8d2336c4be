// Encryption of stored blocks: AES-256-GCM per block, after compression. A sealed block is
// iv (12) | ciphertext | tag (16); its codec byte carries ENCRYPTED_CODEC so a reader knows it
// needs the chain's key before anything else. The block's SHA-256 (of the raw bytes, from its
// map record) is the additional data, so a sealed block cannot be moved under another record.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import { ENCRYPTED_CODEC } from './codec.ts';

const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;

export function sealBlock(payload: Uint8Array, key: Uint8Array, sha256: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(sha256);
  return Buffer.concat([iv, cipher.update(payload), cipher.final(), cipher.getAuthTag()]);
}

export function unsealBlock(sealed: Uint8Array, key: Uint8Array, sha256: Uint8Array): Uint8Array {
  if (sealed.length < IV_BYTES + TAG_BYTES)
    throw new LifeboatError('corrupt-backup', `encrypted block is ${sealed.length} bytes, shorter than its iv and tag`);
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(sha256);
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new LifeboatError('corrupt-backup', 'encrypted block does not authenticate (damaged, or sealed with another key)');
  }
}

/** The compressed block and its codec: unsealed first when the block is encrypted. */
export function unsealed(
  payload: Uint8Array,
  codec: number,
  sha256: Uint8Array,
  key: Uint8Array | null,
): { payload: Uint8Array; codec: number } {
  if ((codec & ENCRYPTED_CODEC) === 0) return { payload, codec };
  if (!key) throw new LifeboatError('unauthorized', 'block is encrypted and no key was given');
  return { payload: unsealBlock(payload, key, sha256), codec: codec & ~ENCRYPTED_CODEC };
}
