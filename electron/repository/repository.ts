// A backup repository on a local file system. Layout (docs/formats/repository.md):
//   repository.json
//   vms/<vmId>/vm.json
//   vms/<vmId>/points/<sequence>-<pointId>/{manifest.json, data.lbd, disk-N.map}
// A point is assembled in vms/<vmId>/points/.partial-<pointId>/ and renamed into place only when
// every file is on disk and synced; partial folders are never listed and are swept on open.
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { syncPath, writeFileDurably } from '../fs/durable.ts';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { Manifest } from './manifest.ts';
import { KeyFile } from './chain-key.ts';

export const DEFAULT_BLOCK_SIZE = 1024 * 1024;
const REPOSITORY_FILE = 'repository.json';
const pointFolderPattern = /^(\d{6})-([A-Za-z0-9-]+)$/;

export type RepositoryInfo = { format: 'lifeboat-repository'; version: 1; id: string; blockSize: number };

/** Where a reader finds the data key of an encrypted chain (null: not unlocked). */
export type KeyLookup = (keyId: string) => Promise<Uint8Array | null>;
const noKeys: KeyLookup = async () => null;

export class Repository {
  readonly path: string;
  readonly info: RepositoryInfo;
  /** The chain keys this view of the repository can use. */
  readonly keyFor: KeyLookup;

  private constructor(path: string, info: RepositoryInfo, keyFor: KeyLookup = noKeys) {
    this.path = path;
    this.info = info;
    this.keyFor = keyFor;
  }

  /** The same repository, reading encrypted chains with these keys. */
  withKeys(keyFor: KeyLookup): Repository {
    return new Repository(this.path, this.info, keyFor);
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
    if (info?.format !== 'lifeboat-repository' || info.version !== 1) throw new LifeboatError('corrupt-backup', `${file} is not a Lifeboat repository`);
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
      if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('corrupt-backup', `encryption key ${keyId} is missing from ${this.path}; restore it with its recovery key file`);
      throw error;
    }
    const parsed = KeyFile.safeParse(safeJson(text));
    if (!parsed.success || parsed.data.keyId !== keyId) throw new LifeboatError('corrupt-backup', `key file ${this.keyFilePath(keyId)} is damaged`);
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
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  }

  async ensureVm(vmId: string, name: string): Promise<void> {
    await mkdir(this.pointsFolder(vmId), { recursive: true });
    await writeFileDurably(join(this.vmFolder(vmId), 'vm.json'), JSON.stringify({ id: vmId, name }, null, 2));
  }

  /** The complete points of a VM's chain, oldest first. Partial folders are not points. */
  async listPoints(vmId: string): Promise<Manifest[]> {
    let names: string[];
    try {
      names = await readdir(this.pointsFolder(vmId));
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return [];
      throw error;
    }
    const manifests: Manifest[] = [];
    for (const name of names.sort()) {
      const match = pointFolderPattern.exec(name);
      if (!match) continue;
      const file = join(this.pointsFolder(vmId), name, 'manifest.json');
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if (isErrnoCode(error, 'ENOENT')) continue;
        throw error;
      }
      const parsed = Manifest.safeParse(safeJson(text));
      if (!parsed.success || parsed.data.id !== match[2] || parsed.data.sequence !== Number(match[1])) {
        throw new LifeboatError('corrupt-backup', `${file} is damaged; the point cannot be used`);
      }
      manifests.push(parsed.data);
    }
    return manifests;
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

  /** Publishes a finished point: manifest last, then one rename, then the parent folder synced. */
  async commitPoint(partial: string, manifest: Manifest): Promise<string> {
    await writeFileDurably(join(partial, 'manifest.json'), JSON.stringify(manifest, null, 2));
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
