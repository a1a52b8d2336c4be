// Where passwords live: never in the catalog. The Electron app passes a store backed by
// safeStorage (the OS keyring); headless engines use a store of files encrypted with a key
// file, both mode 0600 in the home.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { writeFileDurably } from '../fs/durable.ts';

export interface SecretStore {
  readonly kind: string;
  put(id: string, secret: string): Promise<void>;
  get(id: string): Promise<string>;
  remove(id: string): Promise<void>;
}

/** Encrypt/decrypt pair, such as Electron's safeStorage.encryptString/decryptString. */
export type Sealer = { seal(plain: string): Buffer; open(sealed: Buffer): string };

const safeId = /^[A-Za-z0-9-]{1,80}$/;

function checkId(id: string): void {
  if (!safeId.test(id)) throw new LifeboatError('bad-request', `secret id ${JSON.stringify(id)} is not valid`);
}

/** AES-256-GCM with a random key kept in <home>/secrets/key (0600). */
export function keyFileSealer(key: Buffer): Sealer {
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    open(sealed) {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

export class FileSecretStore implements SecretStore {
  readonly kind: string;
  private readonly folder: string;
  private readonly sealer: Sealer;

  private constructor(folder: string, sealer: Sealer, kind: string) {
    this.folder = folder;
    this.sealer = sealer;
    this.kind = kind;
  }

  /** A store in `folder`; without a sealer, one from the folder's own 0600 key file. */
  static async open(folder: string, sealer?: Sealer): Promise<FileSecretStore> {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    if (sealer) return new FileSecretStore(folder, sealer, 'os-keyring');
    const keyPath = join(folder, 'key');
    let key: Buffer;
    try {
      key = await readFile(keyPath);
    } catch (error) {
      if (!isErrnoCode(error, 'ENOENT')) throw error;
      key = randomBytes(32);
      await writeFileDurably(keyPath, key);
    }
    if (key.length !== 32) throw new LifeboatError('corrupt-backup', `secret key file ${keyPath} is damaged`);
    return new FileSecretStore(folder, keyFileSealer(key), 'key-file');
  }

  async put(id: string, secret: string): Promise<void> {
    checkId(id);
    await writeFileDurably(join(this.folder, `${id}.secret`), this.sealer.seal(secret));
  }

  async get(id: string): Promise<string> {
    checkId(id);
    try {
      return this.sealer.open(await readFile(join(this.folder, `${id}.secret`)));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('not-found', `no stored password for ${id}; add the host again`);
      throw new LifeboatError('unauthorized', `the stored password for ${id} cannot be decrypted here (${(error as Error).message})`);
    }
  }

  async remove(id: string): Promise<void> {
    checkId(id);
    await rm(join(this.folder, `${id}.secret`), { force: true });
  }
}
