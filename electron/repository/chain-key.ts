// The key of an encrypted chain. A random 256-bit data key seals every block; the repository
// keeps it only wrapped (AES-256-GCM) under a key derived from the operator's password with
// scrypt, in keys/<keyId>.json. A recovery key file holds the data key itself, for the day the
// password is lost; the key file's check value tells a right recovery key from a wrong one
// without the password.
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID, scrypt } from 'node:crypto';
import { z } from 'zod';
import { LifeboatError } from '../errors.ts';
import { DATA_KEY_BYTES } from './block-cipher.ts';

const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const MIN_PASSWORD = 8;

const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const KeyFile = z.object({
  format: z.literal('lifeboat-key'),
  version: z.literal(1),
  keyId: z.string().uuid(),
  createdAt: z.string(),
  kdf: z.object({
    name: z.literal('scrypt'),
    N: z.number().int().positive(),
    r: z.number().int().positive(),
    p: z.number().int().positive(),
    salt: Base64,
  }),
  wrap: z.object({ cipher: z.literal('aes-256-gcm'), iv: Base64, tag: Base64, key: Base64 }),
  check: z.string().regex(/^[0-9a-f]{64}$/),
});
export type KeyFile = z.infer<typeof KeyFile>;

export const RecoveryKey = z.object({
  format: z.literal('lifeboat-recovery-key'),
  version: z.literal(1),
  keyId: z.string().uuid(),
  key: Base64,
});
export type RecoveryKey = z.infer<typeof RecoveryKey>;

/** Recorded in a manifest: the point's blocks are sealed with this chain key. */
export const PointEncryption = z.object({ cipher: z.literal('aes-256-gcm'), keyId: z.string().uuid() });
export type PointEncryption = z.infer<typeof PointEncryption>;

export type ChainKey = { keyId: string; dataKey: Buffer };

function checkValue(dataKey: Uint8Array): string {
  return createHash('sha256').update('lifeboat key check\0').update(dataKey).digest('hex');
}

/** scrypt, slow on purpose (a stolen salt and check value do not give the password away); also
 * hashes local account passwords (electron/auth/passwords.ts). */
export function derive(password: string, salt: Buffer, params: { N: number; r: number; p: number } = SCRYPT): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // What OpenSSL's scrypt allocates: 128·r·(N + 2) for V plus 128·r·p for B (256·N·r fell short
    // for a small N, so a damaged N of 2 threw instead of failing the check).
    const maxmem = 128 * params.r * (params.N + 2 + params.p) + 64 * 1024;
    scrypt(password, salt, DATA_KEY_BYTES, { ...params, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** The data key wrapped under `password`: what keys/<keyId>.json holds. */
export async function wrapChainKey(key: ChainKey, password: string): Promise<KeyFile> {
  if (password.length < MIN_PASSWORD)
    throw new LifeboatError('bad-request', `an encryption password needs at least ${MIN_PASSWORD} characters`);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', await derive(password, salt, SCRYPT), iv);
  cipher.setAAD(Buffer.from(key.keyId));
  const wrapped = Buffer.concat([cipher.update(key.dataKey), cipher.final()]);
  return {
    format: 'lifeboat-key',
    version: 1,
    keyId: key.keyId,
    createdAt: new Date().toISOString(),
    kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') },
    wrap: {
      cipher: 'aes-256-gcm',
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      key: wrapped.toString('base64'),
    },
    check: checkValue(key.dataKey),
  };
}

export async function newChainKey(password: string): Promise<{ key: ChainKey; file: KeyFile }> {
  const key = { keyId: randomUUID(), dataKey: randomBytes(DATA_KEY_BYTES) };
  return { key, file: await wrapChainKey(key, password) };
}

/** The data key, or 'unauthorized' when the password is not the one it was wrapped with. */
export async function unwrapChainKey(file: KeyFile, password: string): Promise<ChainKey> {
  const kek = await derive(password, Buffer.from(file.kdf.salt, 'base64'), file.kdf);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(file.wrap.iv, 'base64'));
    decipher.setAAD(Buffer.from(file.keyId));
    decipher.setAuthTag(Buffer.from(file.wrap.tag, 'base64'));
    const dataKey = Buffer.concat([decipher.update(Buffer.from(file.wrap.key, 'base64')), decipher.final()]);
    return checked(file, dataKey);
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    throw new LifeboatError('unauthorized', `wrong password for encryption key ${file.keyId}`);
  }
}

/** A data key that passes the key file's check value. */
export function checked(file: KeyFile, dataKey: Buffer): ChainKey {
  if (dataKey.length !== DATA_KEY_BYTES || checkValue(dataKey) !== file.check)
    throw new LifeboatError('unauthorized', `that is not encryption key ${file.keyId}`);
  return { keyId: file.keyId, dataKey };
}

export function recoveryKeyText(key: ChainKey): string {
  const recovery: RecoveryKey = { format: 'lifeboat-recovery-key', version: 1, keyId: key.keyId, key: key.dataKey.toString('base64') };
  return `${JSON.stringify(recovery, null, 2)}\n`;
}

/** A recovery key file's data key, checked against the key file it claims to open. */
export function fromRecoveryKey(file: KeyFile, text: string): ChainKey {
  let parsed: ReturnType<typeof RecoveryKey.safeParse>;
  try {
    parsed = RecoveryKey.safeParse(JSON.parse(text));
  } catch {
    throw new LifeboatError('bad-request', 'the recovery key file is not JSON');
  }
  if (!parsed.success) throw new LifeboatError('bad-request', 'that file is not a Lifeboat recovery key');
  if (parsed.data.keyId !== file.keyId)
    throw new LifeboatError('unauthorized', `the recovery key is for key ${parsed.data.keyId}, the point needs ${file.keyId}`);
  return checked(file, Buffer.from(parsed.data.key, 'base64'));
}
