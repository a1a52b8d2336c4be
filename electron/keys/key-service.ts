// Chain keys as the operator meets them: unlocked by a password, a recovery key file or the
// secret store (when remembered); refused with a clear sentence before any job exists when the
// password is wrong. A new password rewraps the same key in every repository holding it.
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncryptionKey } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import {
  checked,
  fromRecoveryKey,
  newChainKey,
  recoveryKeyText,
  unwrapChainKey,
  wrapChainKey,
  type ChainKey,
  type KeyFile,
} from '../repository/chain-key.ts';
import type { KeyLookup, Repository } from '../repository/repository.ts';
import type { SecretStore } from '../secrets/secret-store.ts';

export type KeyCredentials = { password?: string | undefined; recoveryKey?: string | undefined };

/** What a backup seals its blocks with: the chain's key, and its key file when the chain is new. */
export type BackupKey = { key: ChainKey; newFile: KeyFile | null };

const secretId = (keyId: string): string => `chainkey-${keyId}`;

// In a file of its own, so that a listing shows a job's parameters without loading key handling.
export { withoutSecrets } from './without-secrets.ts';

export class KeyService {
  private readonly primary: Repository;
  private readonly secrets: SecretStore;
  private readonly catalog: Catalog;
  /** Other repositories that may hold key files (copies), for a new password. */
  private readonly copies: () => Promise<Repository[]>;

  constructor(options: { primary: Repository; secrets: SecretStore; catalog: Catalog; copies: () => Promise<Repository[]> }) {
    this.primary = options.primary;
    this.secrets = options.secrets;
    this.catalog = options.catalog;
    this.copies = options.copies;
  }

  /** Remembered keys, from the secret store. */
  readonly storedKey: KeyLookup = async (keyId) => {
    try {
      return Buffer.from(await this.secrets.get(secretId(keyId)), 'base64');
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'not-found') return null;
      throw error;
    }
  };

  /** The chain key from `repository`'s key file, by password, recovery key or memory. */
  async unlock(repository: Repository, keyId: string, credentials: KeyCredentials, what: string): Promise<ChainKey> {
    const file = await repository.readKeyFile(keyId);
    if (credentials.password !== undefined) return unwrapChainKey(file, credentials.password);
    if (credentials.recoveryKey !== undefined) return fromRecoveryKey(file, credentials.recoveryKey);
    const stored = await this.storedKey(keyId);
    if (stored) return checked(file, Buffer.from(stored));
    throw new LifeboatError(
      'unauthorized',
      `${what} is encrypted (key ${keyId}): give its password (--password-env VAR) or its recovery key file (--recovery-key FILE)`,
    );
  }

  /** Keys for a restore of a point: none needed, or its chain key unlocked from the key file of
   * the repository read. Once unlocked (scrypt is slow on purpose), the key serves every copy. */
  unlocker(keyId: string | null, credentials: KeyCredentials, what: string): (repository: Repository) => Promise<KeyLookup> {
    let key: ChainKey | null = null;
    return async (repository) => {
      if (keyId === null) return this.storedKey;
      key ??= await this.unlock(repository, keyId, credentials, what);
      const unlocked = key;
      return async (id) => (id === unlocked.keyId ? unlocked.dataKey : null);
    };
  }

  /** The key a backup of this VM seals with: a new one when an encrypted chain starts, the
   * chain's own after that; none for a plain chain. */
  async forBackup(vmId: string, vmName: string, request: { encrypt: boolean; password?: string | undefined }): Promise<BackupKey | null> {
    const last = (await this.primary.listPoints(vmId)).at(-1);
    const keyId = last?.encryption?.keyId ?? null;
    if (last && keyId === null) {
      if (request.encrypt)
        throw new LifeboatError(
          'conflict',
          `the chain of ${vmName} is not encrypted; a chain is encrypted from its full point on, so back it up to a new VM chain or keep it plain`,
        );
      return null;
    }
    if (keyId !== null)
      return { key: await this.unlock(this.primary, keyId, { password: request.password }, `the chain of ${vmName}`), newFile: null };
    if (!request.encrypt) {
      if (request.password !== undefined)
        throw new LifeboatError('bad-request', `${vmName} has no encrypted chain yet: add --encrypt to start one under this password`);
      return null;
    }
    if (request.password === undefined) throw new LifeboatError('bad-request', 'an encrypted backup needs a password (--password-env VAR)');
    const { key, file } = await newChainKey(request.password);
    return { key, newFile: file };
  }

  async remember(key: ChainKey): Promise<void> {
    await this.secrets.put(secretId(key.keyId), key.dataKey.toString('base64'));
  }

  async list(): Promise<EncryptionKey[]> {
    let names: string[];
    try {
      names = await readdir(join(this.primary.path, 'keys'));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return [];
      throw error;
    }
    const keys: EncryptionKey[] = [];
    for (const name of names.filter((entry) => entry.endsWith('.json')).sort()) {
      const file = await this.primary.readKeyFile(name.slice(0, -'.json'.length));
      keys.push(await this.describe(file));
    }
    return keys;
  }

  private async describe(file: KeyFile): Promise<EncryptionKey> {
    return {
      keyId: file.keyId,
      createdAt: file.createdAt,
      vms: this.catalog.vmsWithKey(file.keyId),
      stored: (await this.storedKey(file.keyId)) !== null,
    };
  }

  /** A key the operator names: one the primary repository holds, or 'not-found'. */
  private async known(keyId: string): Promise<KeyFile> {
    try {
      await access(this.primary.keyFilePath(keyId));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('not-found', `no encryption key ${keyId}; \`lifeboat keys\` lists them`);
      throw error;
    }
    return this.primary.readKeyFile(keyId);
  }

  async recoveryText(keyId: string, password: string): Promise<string> {
    return recoveryKeyText(await unwrapChainKey(await this.known(keyId), password));
  }

  async rememberKey(keyId: string, credentials: KeyCredentials): Promise<EncryptionKey> {
    if (credentials.password === undefined && credentials.recoveryKey === undefined)
      throw new LifeboatError('bad-request', 'give the password or the recovery key of the key to remember');
    const file = await this.known(keyId);
    await this.remember(await this.unlock(this.primary, keyId, credentials, `key ${keyId}`));
    return this.describe(file);
  }

  async forget(keyId: string): Promise<EncryptionKey> {
    const file = await this.known(keyId);
    await this.secrets.remove(secretId(keyId));
    return this.describe(file);
  }

  /** The lost-password path: the recovery key (or the old password) proves the key; the same
   * data key is wrapped under the new password wherever a key file of it is kept. */
  async setPassword(keyId: string, credentials: KeyCredentials, newPassword: string): Promise<EncryptionKey> {
    if (credentials.password === undefined && credentials.recoveryKey === undefined)
      throw new LifeboatError('bad-request', 'give the old password or the recovery key file');
    await this.known(keyId);
    const key = await this.unlock(this.primary, keyId, credentials, `key ${keyId}`);
    const file = await wrapChainKey(key, newPassword);
    for (const repository of [this.primary, ...(await this.copies())]) {
      const held = await repository.readKeyFile(keyId).then(
        () => true,
        () => false,
      );
      if (held || repository === this.primary) await repository.writeKeyFile(file);
    }
    return this.describe(file);
  }
}
