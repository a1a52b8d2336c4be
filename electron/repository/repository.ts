// A backup repository on a local file system. Layout (docs/formats/repository.md):
//   repository.json
//   vms/<vmId>/vm.json
//   vms/<vmId>/points/<sequence>-<pointId>/{manifest.json, manifest.sha256, data.lbd, disk-N.map}
// A point is assembled in vms/<vmId>/points/.partial-<pointId>/ and renamed into place only when
// every file is on disk and synced; partial folders are never listed and are swept on open.
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { syncPath, writeFileDurably } from '../fs/durable.ts';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { Manifest } from './manifest.ts';
import { KeyFile } from './chain-key.ts';
import { MANIFEST_HASH_FILE, manifestSha256, parseManifestHashFile } from './manifest-seal.ts';
import { manifestProblem } from './manifest-check.ts';

export const DEFAULT_BLOCK_SIZE = 1024 * 1024;
const REPOSITORY_FILE = 'repository.json';
const pointFolderPattern = /^(\d{6})-([A-Za-z0-9-]+)$/;

export type RepositoryInfo = { format: 'lifeboat-repository'; version: 1; id: string; blockSize: number };

/** Where a reader finds the data key of an encrypted chain (null: not unlocked). */
export type KeyLookup = (keyId: string) => Promise<Uint8Array | null>;
const noKeys: KeyLookup = async () => null;

/** The manifest hash the catalog recorded when a point was made (null: none recorded). */
export type RecordedHashes = (pointId: string) => string | null;
const noRecords: RecordedHashes = () => null;

/** A manifest larger than this is not one a backup wrote. */
const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;

/** A published point folder's name: its sequence and point id. */
export type PointName = { sequence: number; id: string };

/** A published point folder as found: its manifest when whole and sane, else what is wrong. */
export type PointEntry = {
  sequence: number;
  id: string;
  manifest: Manifest | null;
  /** Why the point cannot be used (null: healthy). */
  damage: string | null;
  /** The manifest's hash (null when it could not be read). */
  sha256: string | null;
  /** Whether the manifest's side file holds its hash (points made before it have none). */
  hashFile: boolean;
};

export class Repository {
  readonly path: string;
  readonly info: RepositoryInfo;
  /** The chain keys this view of the repository can use. */
  readonly keyFor: KeyLookup;
  /** The manifest hashes the catalog vouches for; a manifest that differs is damaged. */
  readonly recordedHash: RecordedHashes;

  private constructor(path: string, info: RepositoryInfo, keyFor: KeyLookup = noKeys, recordedHash: RecordedHashes = noRecords) {
    this.path = path;
    this.info = info;
    this.keyFor = keyFor;
    this.recordedHash = recordedHash;
  }

  /** The same repository, reading encrypted chains with these keys. */
  withKeys(keyFor: KeyLookup): Repository {
    return new Repository(this.path, this.info, keyFor, this.recordedHash);
  }

  /** The same repository, checking every manifest against these recorded hashes too. */
  withRecordedHashes(recordedHash: RecordedHashes): Repository {
    return new Repository(this.path, this.info, this.keyFor, recordedHash);
  }

  /** Opens a repository that must exist already (a copy target, a restore source). */
  static async open(path: string): Promise<Repository> {
    const file = join(path, REPOSITORY_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('not-found', `${path} holds no Lifeboat repository`);
      throw new LifeboatError('unavailable', `${path} cannot be read: ${(error as Error).message}`);
    }
    const info = safeJson(text) as RepositoryInfo | null;
    if (info?.format !== 'lifeboat-repository' || info.version !== 1)
      throw new LifeboatError('corrupt-backup', `${file} is not a Lifeboat repository`);
    return new Repository(path, info);
  }

  keyFilePath(keyId: string): string {
    return join(this.path, 'keys', `${keyId}.json`);
  }

  async readKeyFile(keyId: string): Promise<KeyFile> {
    let text: string;
    try {
      text = await readFile(this.keyFilePath(keyId), 'utf8');
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT'))
        throw new LifeboatError(
          'corrupt-backup',
          `encryption key ${keyId} is missing from ${this.path}; restore it with its recovery key file`,
        );
      throw error;
    }
    const parsed = KeyFile.safeParse(safeJson(text));
    if (!parsed.success || parsed.data.keyId !== keyId)
      throw new LifeboatError('corrupt-backup', `key file ${this.keyFilePath(keyId)} is damaged`);
    return parsed.data;
  }

  /** Stores a wrapped key (new, or the same key under a new password). */
  async writeKeyFile(file: KeyFile): Promise<void> {
    await mkdir(join(this.path, 'keys'), { recursive: true });
    const path = this.keyFilePath(file.keyId);
    await writeFileDurably(`${path}.new`, JSON.stringify(file, null, 2));
    await rename(`${path}.new`, path);
    await syncPath(join(this.path, 'keys'));
  }

  static async openOrCreate(path: string, id: string, blockSize = DEFAULT_BLOCK_SIZE): Promise<Repository> {
    await mkdir(join(path, 'vms'), { recursive: true });
    try {
      return await Repository.open(path);
    } catch (error) {
      if (!(error instanceof LifeboatError && error.code === 'not-found')) throw error;
    }
    const info: RepositoryInfo = { format: 'lifeboat-repository', version: 1, id, blockSize };
    await writeFileDurably(join(path, REPOSITORY_FILE), JSON.stringify(info, null, 2));
    return new Repository(path, info);
  }

  vmFolder(vmId: string): string {
    return join(this.path, 'vms', vmId);
  }

  pointsFolder(vmId: string): string {
    return join(this.vmFolder(vmId), 'points');
  }

  pointFolder(manifest: Pick<Manifest, 'vmId' | 'sequence' | 'id'>): string {
    return join(this.pointsFolder(manifest.vmId), `${String(manifest.sequence).padStart(6, '0')}-${manifest.id}`);
  }

  async listVmIds(): Promise<string[]> {
    const entries = await readdir(join(this.path, 'vms'), { withFileTypes: true });
    return entries
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
  }

  async ensureVm(vmId: string, name: string): Promise<void> {
    await mkdir(this.pointsFolder(vmId), { recursive: true });
    await writeFileDurably(join(this.vmFolder(vmId), 'vm.json'), JSON.stringify({ id: vmId, name }, null, 2));
  }

  /** The published point folders of a VM, oldest first, as named (nothing read inside). */
  async pointFolders(vmId: string): Promise<PointName[]> {
    let names: string[];
    try {
      names = await readdir(this.pointsFolder(vmId));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return [];
      throw error;
    }
    return names.sort().flatMap((name) => {
      const match = pointFolderPattern.exec(name);
      return match ? [{ sequence: Number(match[1]), id: match[2] as string }] : [];
    });
  }

  /** Every published point of a VM, oldest first, each checked: its manifest must be readable,
   * match the hash recorded for it (side file, catalog) and make sense. A damaged point is
   * listed with the reason; it never hides the others. Partial folders are not points. */
  async scanPoints(vmId: string): Promise<PointEntry[]> {
    const entries: PointEntry[] = [];
    for (const name of await this.pointFolders(vmId)) entries.push(await this.readPoint(vmId, name));
    return entries;
  }

  /** The name the VM was last backed up under (its id when vm.json cannot tell). */
  async vmName(vmId: string): Promise<string> {
    const info = safeJson(await readFile(join(this.vmFolder(vmId), 'vm.json'), 'utf8').catch(() => '')) as { name?: unknown } | null;
    return typeof info?.name === 'string' && info.name !== '' ? info.name : vmId;
  }

  /** The healthy points of a VM's chain, oldest first. */
  async listPoints(vmId: string): Promise<Manifest[]> {
    return (await this.scanPoints(vmId)).flatMap((entry) => (entry.manifest && entry.damage === null ? [entry.manifest] : []));
  }

  /** One point folder, checked as scanPoints checks every one. */
  async readPoint(vmId: string, { sequence, id }: PointName): Promise<PointEntry> {
    const folder = this.pointFolder({ vmId, sequence, id });
    const damaged = (damage: string, sha256: string | null = null): PointEntry => ({
      sequence,
      id,
      manifest: null,
      damage,
      sha256,
      hashFile: false,
    });
    const file = join(folder, 'manifest.json');
    let bytes: Buffer;
    try {
      if ((await stat(file)).size > MANIFEST_MAX_BYTES) return damaged(`its manifest.json is larger than ${MANIFEST_MAX_BYTES} bytes`);
      bytes = await readFile(file);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return damaged('its manifest.json is missing');
      return damaged(`its manifest.json cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    let value: unknown;
    let sha256: string;
    try {
      value = JSON.parse(bytes.toString('utf8'));
      sha256 = manifestSha256(value);
    } catch {
      return damaged('its manifest.json is not JSON (truncated or overwritten)');
    }
    // The catalog's record first: it is outside the repository, where the damage would be.
    const recorded = this.recordedHash(id);
    if (recorded !== null && recorded !== sha256)
      return damaged(
        'its manifest.json does not match the SHA-256 the catalog recorded when the point was made (changed after the backup)',
        sha256,
      );
    const side = await this.readHashFile(folder);
    if (side === 'damaged') return damaged(`its ${MANIFEST_HASH_FILE} is damaged`, sha256);
    if (side !== null && side !== sha256)
      return damaged(`its manifest.json does not match the SHA-256 in ${MANIFEST_HASH_FILE} (changed after the backup)`, sha256);
    const parsed = Manifest.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return damaged(
        `its manifest.json is not a point manifest (${issue ? `${issue.path.join('.') || 'top level'}: ${issue.message}` : 'bad shape'})`,
        sha256,
      );
    }
    // Points that record their chain were made with a side file: one without has lost it.
    if (side === null && parsed.data.dependsOn !== undefined) return damaged(`its ${MANIFEST_HASH_FILE} is missing`, sha256);
    if (parsed.data.id !== id || parsed.data.sequence !== sequence)
      return damaged(`its manifest.json names point ${parsed.data.sequence} (${parsed.data.id}), not the folder's`, sha256);
    const problem = manifestProblem(parsed.data);
    if (problem) return damaged(`its manifest is impossible: ${problem}`, sha256);
    return { sequence, id, manifest: parsed.data, damage: null, sha256, hashFile: side !== null };
  }

  /** The hash in a point's side file: null when there is none (points made before it). */
  private async readHashFile(folder: string): Promise<string | 'damaged' | null> {
    try {
      return parseManifestHashFile(await readFile(join(folder, MANIFEST_HASH_FILE), 'utf8')) ?? 'damaged';
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return null;
      return 'damaged';
    }
  }

  /** Removes folders of points whose backup never finished (crash, cancel, failure). */
  async sweepPartialPoints(vmId: string): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.pointsFolder(vmId));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return 0;
      throw error;
    }
    const partial = names.filter((name) => name.startsWith('.partial-'));
    for (const name of partial) await rm(join(this.pointsFolder(vmId), name), { recursive: true, force: true });
    return partial.length;
  }

  partialFolder(vmId: string, pointId: string): string {
    return join(this.pointsFolder(vmId), `.partial-${pointId}`);
  }

  /** Publishes a finished point: manifest and its hash last, then one rename, then the parent
   * folder synced. */
  async commitPoint(partial: string, manifest: Manifest): Promise<string> {
    await writeFileDurably(join(partial, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await writeFileDurably(join(partial, MANIFEST_HASH_FILE), `${manifestSha256(manifest)}\n`);
    await syncPath(partial);
    const final = this.pointFolder(manifest);
    try {
      await stat(final);
      throw new LifeboatError('conflict', `restore point ${manifest.sequence} of ${manifest.vmName} already exists`);
    } catch (error) {
      if (!isErrnoCode(error, 'ENOENT')) throw error;
    }
    await rename(partial, final);
    await syncPath(this.pointsFolder(manifest.vmId));
    return final;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
