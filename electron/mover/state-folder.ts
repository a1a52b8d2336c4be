// A mover's state folder (0700): its ECDSA P-256 key (key.pem, 0600, made once and never sent),
// the certificate the engine issued for it (cert.pem) and the engine's CA (ca.pem), the only
// certificate authority the mover trusts.
import { generateKeyPairSync, createPublicKey, X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { replaceFileDurably, syncPath } from '../fs/durable.ts';
import { makeFolders } from '../fs/make-folders.ts';

export type MoverIdentity = { keyPem: string; certificatePem: string; caPem: string; name: string };

export class StateFolder {
  readonly path: string;
  private constructor(path: string) {
    this.path = path;
  }

  /** The folder, made 0700 if missing; a link or a file in its place is refused. */
  static async open(path: string): Promise<StateFolder> {
    await makeFolders(path);
    const found = await lstat(path);
    if (!found.isDirectory()) throw new LifeboatError('bad-request', `--state ${path} is not a folder (a symbolic link is not followed)`);
    await chmod(path, 0o700);
    return new StateFolder(path);
  }

  private file(name: 'key.pem' | 'cert.pem' | 'ca.pem'): string {
    return join(this.path, name);
  }

  private async read(name: 'key.pem' | 'cert.pem' | 'ca.pem'): Promise<string | null> {
    return readFile(this.file(name), 'utf8').catch((error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) return null;
      throw new LifeboatError('bad-request', `${this.file(name)} cannot be read: ${(error as Error).message}`);
    });
  }

  /** The key to certify at join: the stored one, or a new one kept in memory until the join
   * succeeds (a failed join leaves nothing behind). */
  async joinKey(): Promise<{ keyPem: string; publicKeyPem: string }> {
    const keyPem =
      (await this.read('key.pem')) ??
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    try {
      return { keyPem, publicKeyPem: createPublicKey(keyPem).export({ type: 'spki', format: 'pem' }).toString() };
    } catch (error) {
      throw new LifeboatError('bad-request', `${this.file('key.pem')} is not a private key: ${(error as Error).message}`);
    }
  }

  /** The key and certificates of a joined mover, or null before its first join. */
  async identity(): Promise<MoverIdentity | null> {
    const [keyPem, certificatePem, caPem] = [await this.read('key.pem'), await this.read('cert.pem'), await this.read('ca.pem')];
    if (certificatePem === null) return null;
    if (keyPem === null || caPem === null)
      throw new LifeboatError(
        'bad-request',
        `${this.path} has cert.pem but no ${keyPem === null ? 'key.pem' : 'ca.pem'}; remove cert.pem and join again`,
      );
    return { keyPem, certificatePem, caPem, name: certificateName(certificatePem, this.file('cert.pem')) };
  }

  /** What a join made: key.pem (0600, never replaced), then ca.pem, then cert.pem, so a cert.pem
   * is never there without its key and CA. */
  async storeJoined(keyPem: string, certificatePem: string, caPem: string): Promise<void> {
    await this.storeKey(keyPem);
    await replaceFileDurably(this.file('ca.pem'), caPem);
    await replaceFileDurably(this.file('cert.pem'), certificatePem);
  }

  private async storeKey(keyPem: string): Promise<void> {
    // O_EXCL: a key.pem another join stored meanwhile is kept, and this join's certificate refused.
    const handle = await open(
      this.file('key.pem'),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    ).catch((error: unknown) => {
      if (isErrnoCode(error, 'EEXIST')) return null;
      throw error;
    });
    if (!handle) {
      if ((await this.read('key.pem')) !== keyPem)
        throw new LifeboatError('conflict', `${this.file('key.pem')} changed while joining; join again`);
      return;
    }
    try {
      await handle.writeFile(keyPem);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncPath(this.path);
  }

  async storeCertificate(certificatePem: string): Promise<void> {
    await replaceFileDurably(this.file('cert.pem'), certificatePem);
  }
}

/** The mover's name, as the engine put it in the certificate's common name. */
function certificateName(certificatePem: string, where: string): string {
  let subject: string;
  try {
    subject = new X509Certificate(certificatePem).subject;
  } catch (error) {
    throw new LifeboatError('bad-request', `${where} is not a certificate: ${(error as Error).message}; remove it and join again`);
  }
  return /^CN=(.*)$/m.exec(subject)?.[1] ?? subject.replaceAll('\n', ', ');
}
