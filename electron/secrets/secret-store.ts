// Where passwords live: never in the catalog, and never beside the key that opens them. Each
// secret is a file in <home>/secrets sealed either by the OS keyring (Electron's safeStorage) or
// with AES-256-GCM under a key kept outside the home (key-source.ts says where it comes from).
// store.json records which, with a check value, so a wrong key is named at start instead of
// failing secret by secret. See docs/security.md for the threat model.
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { replaceFileDurably } from '../fs/durable.ts';
import { chosenByOperator, type KeySource } from './key-source.ts';
import { STORE_INFO, migrateLegacyStore, readLegacyKey, recoverMigration, type CrashPoint } from './legacy-migration.ts';
import { loadKey, parseKeyBytes } from './store-key.ts';
import type { Sealer } from './sealer.ts';

export interface SecretStore {
  readonly kind: string;
  put(id: string, secret: string): Promise<void>;
  get(id: string): Promise<string>;
  remove(id: string): Promise<void>;
}

const safeId = /^[A-Za-z0-9-]{1,80}$/;

function checkId(id: string): void {
  if (!safeId.test(id)) throw new LifeboatError('bad-request', `secret id ${JSON.stringify(id)} is not valid`);
}

/** AES-256-GCM under a 32-byte key: iv, tag, then the sealed text. */
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

const StoreInfo = z.object({
  format: z.literal('lifeboat-secret-store'),
  version: z.literal(1),
  sealedBy: z.enum(['os-keyring', 'key']),
  keySource: z.enum(['os-keyring', 'key-file', 'key-env', 'passphrase', 'generated']),
  /** Names the generated key file, which lives outside the home. */
  homeId: z.string().uuid(),
  /** The passphrase's scrypt salt (not secret). */
  salt: z.string().nullable(),
  /** A known text sealed with the key: tells a right key from a wrong one. */
  check: z.string(),
});
type StoreInfo = z.infer<typeof StoreInfo>;

const checkText = (homeId: string) => `lifeboat secret store ${homeId}`;

function opensCheck(sealer: Sealer, info: StoreInfo): boolean {
  try {
    return sealer.open(Buffer.from(info.check, 'base64')) === checkText(info.homeId);
  } catch {
    return false;
  }
}

async function readStoreInfo(folder: string): Promise<StoreInfo | null> {
  const path = join(folder, STORE_INFO);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
  return parseStoreInfo(text, path);
}

export function parseStoreInfo(text: string, path: string): StoreInfo {
  try {
    return StoreInfo.parse(JSON.parse(text));
  } catch {
    throw new LifeboatError('corrupt-backup', `the secret store's description ${path} is damaged`);
  }
}

const sourceNames: Record<StoreInfo['keySource'], string> = {
  'os-keyring': "the desktop app's OS keyring (safeStorage); open this home with the app",
  'key-file': 'a key file; give it with --secrets-key-file or $LIFEBOAT_SECRETS_KEY_FILE',
  'key-env': 'a key; give it in $LIFEBOAT_SECRETS_KEY',
  passphrase: 'a passphrase; give it with --secrets-passphrase-env VAR',
  generated: 'a key file Lifeboat made outside the home, which this user or machine does not have (or set $LIFEBOAT_KEYS_DIR)',
};

export type SecretStoreOptions = {
  /** The home the store is in: a key file must be outside it. */
  home: string;
  /** The OS keyring, when the desktop app has a real one. */
  sealer?: Sealer | undefined;
  /** The headless key source; also used by the app for a store a headless engine sealed. */
  source: KeySource;
  /** What sealed the secrets of a home from before store.json that had no key file in it: the
   * app's safeStorage when it was only 'basic_text' (a fixed password). They are re-sealed. */
  formerSealer?: Sealer | undefined;
  crashAt?: CrashPoint | undefined;
};

type Sealing = { sealer: Sealer; info: StoreInfo; description: string };

async function newSealing(options: SecretStoreOptions, homeId: string): Promise<Sealing> {
  if (options.sealer) {
    const info: StoreInfo = {
      format: 'lifeboat-secret-store',
      version: 1,
      sealedBy: 'os-keyring',
      keySource: 'os-keyring',
      homeId,
      salt: null,
      check: options.sealer.seal(checkText(homeId)).toString('base64'),
    };
    return { sealer: options.sealer, info, description: 'the OS keyring (safeStorage)' };
  }
  const loaded = await loadKey(options.source, { home: options.home, homeId, salt: null, create: true });
  if (!loaded) throw new LifeboatError('internal', 'a secrets key was not made');
  const sealer = keyFileSealer(loaded.key);
  const info: StoreInfo = {
    format: 'lifeboat-secret-store',
    version: 1,
    sealedBy: 'key',
    keySource: options.source.kind,
    homeId,
    salt: loaded.salt,
    check: sealer.seal(checkText(homeId)).toString('base64'),
  };
  return { sealer, info, description: loaded.description };
}

export class FileSecretStore implements SecretStore {
  private readonly folder: string;
  private sealing: Promise<Sealing> | null;
  /** Set when the store's key is not here: secrets cannot be read or added, only removed. */
  private readonly locked: string | null;
  private readonly makeSealing: () => Promise<Sealing>;

  private constructor(folder: string, state: { sealing: Sealing | null; locked: string | null; makeSealing?: () => Promise<Sealing> }) {
    this.folder = folder;
    this.sealing = state.sealing ? Promise.resolve(state.sealing) : null;
    this.locked = state.locked;
    this.makeSealing = state.makeSealing ?? (() => Promise.reject(new LifeboatError('internal', 'the secret store has no key')));
  }

  private sealedBy: StoreInfo['sealedBy'] | null = null;
  /** Where the key is, in words, or why the store is locked. */
  description = '';

  /** 'os-keyring', 'key' or 'locked' (for the audit log). */
  get kind(): string {
    return this.locked ? 'locked' : (this.sealedBy ?? 'key');
  }

  static async open(folder: string, options: SecretStoreOptions): Promise<FileSecretStore> {
    await mkdir(folder, { recursive: true, mode: 0o700 });
    await recoverMigration(folder, options.crashAt);
    const info = await readStoreInfo(folder);
    if (info) return FileSecretStore.openSealed(folder, info, options);
    const homeId = randomUUID();
    const legacyKey = await readLegacyKey(folder);
    const hasSecrets = (await readdir(folder)).some((name) => name.endsWith('.secret'));
    const oldSealer = legacyKey
      ? keyFileSealer(parseKeyBytes(legacyKey, `old secrets key ${join(folder, 'key')}`))
      : hasSecrets
        ? options.formerSealer
        : undefined;
    if (oldSealer) {
      const sealing = await newSealing(options, homeId);
      await migrateLegacyStore(folder, oldSealer, sealing.sealer, JSON.stringify(sealing.info), options.crashAt);
      return FileSecretStore.ready(
        folder,
        sealing,
        `${sealing.description}; the secrets were re-sealed from ${legacyKey ? 'the key that was in the home' : 'what sealed them before'}`,
      );
    }
    if (options.sealer || chosenByOperator(options.source)) {
      const sealing = await newSealing(options, homeId);
      await replaceFileDurably(join(folder, STORE_INFO), JSON.stringify(sealing.info));
      return FileSecretStore.ready(folder, sealing, sealing.description);
    }
    // No secret yet and no key chosen: the generated key is made with the first secret, so an
    // engine that never stores one leaves nothing outside its home.
    const store = new FileSecretStore(folder, {
      sealing: null,
      locked: null,
      makeSealing: async () => {
        const sealing = await newSealing(options, homeId);
        await replaceFileDurably(join(folder, STORE_INFO), JSON.stringify(sealing.info));
        store.sealedBy = sealing.info.sealedBy;
        store.description = sealing.description;
        return sealing;
      },
    });
    store.description = `no secrets yet: the first one makes a key file in ${options.source.kind === 'generated' ? options.source.folder : 'the key folder'}`;
    return store;
  }

  private static ready(folder: string, sealing: Sealing, description: string): FileSecretStore {
    const store = new FileSecretStore(folder, { sealing, locked: null });
    store.sealedBy = sealing.info.sealedBy;
    store.description = description;
    return store;
  }

  private static lockedStore(folder: string, reason: string): FileSecretStore {
    const store = new FileSecretStore(folder, { sealing: null, locked: reason });
    store.description = reason;
    return store;
  }

  /** A store that already has its key: the same one must open it. A key the operator chose that
   * does not fit stops the start; a missing key only locks the secrets (other work goes on). */
  private static async openSealed(folder: string, info: StoreInfo, options: SecretStoreOptions): Promise<FileSecretStore> {
    const locked = `this home's secrets are sealed with ${sourceNames[info.keySource]}`;
    if (info.sealedBy === 'os-keyring') {
      if (!options.sealer) return FileSecretStore.lockedStore(folder, locked);
      if (!opensCheck(options.sealer, info))
        return FileSecretStore.lockedStore(
          folder,
          `this home's secrets were sealed by another OS keyring (another user or machine); add the hosts again`,
        );
      return FileSecretStore.ready(
        folder,
        { sealer: options.sealer, info, description: 'the OS keyring (safeStorage)' },
        'the OS keyring (safeStorage)',
      );
    }
    const loaded = await loadKey(options.source, { home: options.home, homeId: info.homeId, salt: info.salt, create: false });
    if (!loaded) return FileSecretStore.lockedStore(folder, locked);
    const sealer = keyFileSealer(loaded.key);
    if (!opensCheck(sealer, info)) {
      if (chosenByOperator(options.source))
        throw new LifeboatError('unauthorized', `${loaded.description} does not open this home's secret store (${locked})`);
      return FileSecretStore.lockedStore(folder, locked);
    }
    return FileSecretStore.ready(folder, { sealer, info, description: loaded.description }, loaded.description);
  }

  private async sealer(): Promise<Sealer> {
    if (this.locked) throw new LifeboatError('unauthorized', this.locked);
    this.sealing ??= this.makeSealing().catch((error: unknown) => {
      this.sealing = null;
      throw error;
    });
    return (await this.sealing).sealer;
  }

  async put(id: string, secret: string): Promise<void> {
    checkId(id);
    const sealer = await this.sealer();
    await replaceFileDurably(join(this.folder, `${id}.secret`), sealer.seal(secret));
  }

  async get(id: string): Promise<string> {
    checkId(id);
    if (this.locked) throw new LifeboatError('unauthorized', this.locked);
    let sealed: Buffer;
    try {
      sealed = await readFile(join(this.folder, `${id}.secret`));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('not-found', `no stored password for ${id}; add the host again`);
      throw error;
    }
    if (!this.sealing)
      throw new LifeboatError('unauthorized', `the stored password for ${id} cannot be decrypted here: the secret store has no key`);
    const { sealer } = await this.sealing;
    try {
      return sealer.open(sealed);
    } catch (error) {
      throw new LifeboatError('unauthorized', `the stored password for ${id} cannot be decrypted here (${(error as Error).message})`);
    }
  }

  async remove(id: string): Promise<void> {
    checkId(id);
    await rm(join(this.folder, `${id}.secret`), { force: true });
  }
}
