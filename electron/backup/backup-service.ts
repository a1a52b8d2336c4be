// Starting a backup of a VM folder: the source and, for an encrypted chain, its key are checked
// before a job exists; each committed point is recorded and its files indexed in a job of their own.
import type { Job } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { BackupKey, KeyService } from '../keys/key-service.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import type { BackupWork } from './backup-vm.ts';
import { readSourceVm, type SourceVm } from './source-vm.ts';

export type BackupServiceDeps = {
  catalog: Catalog;
  jobs: JobQueue;
  repository: Repository;
  keys: KeyService;
  /** The backup's work (electron/engine/job-works.ts builds it); `repository` holds the chain's key when it is encrypted. */
  works: {
    backup(
      repository: Repository,
      sourceFolder: string,
      onCommitted: (manifest: Manifest, source: SourceVm) => void,
      chainKey: BackupKey | null,
    ): BackupWork;
  };
  /** Indexes a new point's files; `repository` holds the key the backup sealed it with. */
  startIndex(vmId: string, vmName: string, pointId: string, actor: string, repository: Repository): Job;
};

export type BackupEncryption = { encrypt: boolean; password?: string | undefined; rememberKey?: boolean };

export class BackupService {
  private readonly deps: BackupServiceDeps;

  constructor(deps: BackupServiceDeps) {
    this.deps = deps;
  }

  /** A backup of a VM folder; `encrypt` starts an encrypted chain under `password`, which an
   * encrypted chain then needs on every backup (unless its key is remembered). */
  async start(sourcePath: string, actor: string, encryption: BackupEncryption = { encrypt: false }): Promise<Job> {
    const { catalog, keys } = this.deps;
    const source = await readSourceVm(sourcePath); // a bad source fails here, before a job exists
    const chainKey = await keys.forBackup(source.vmId, source.vmx.displayName, encryption); // so does a wrong password
    if (chainKey && encryption.rememberKey) await keys.remember(chainKey.key);
    const repository = chainKey
      ? this.deps.repository.withKeys(async (keyId) => (keyId === chainKey.key.keyId ? chainKey.key.dataKey : null))
      : this.deps.repository;
    catalog.audit(actor, 'backup.start', source.vmId, {
      source: source.folder,
      keyId: chainKey?.key.keyId ?? null,
      newKey: Boolean(chainKey?.newFile),
    });
    const sealed = chainKey ? ` (encrypted, key ${chainKey.key.keyId})` : '';
    return this.deps.jobs.submit(
      {
        kind: 'backup',
        vmId: source.vmId,
        vmName: source.vmx.displayName,
        summary: `Back up ${source.vmx.displayName} from ${source.folder}${sealed}`,
        params: { source: source.folder, keyId: chainKey?.key.keyId ?? null },
      },
      () =>
        this.deps.works.backup(
          repository,
          source.folder,
          (manifest, read) => {
            catalog.recordPoint(manifest, this.deps.repository.info.id, read.folder, read.vmx.uuid);
            // The new point's files become searchable in a job of their own.
            this.deps.startIndex(manifest.vmId, manifest.vmName, manifest.id, actor, repository);
          },
          chainKey,
        ),
    );
  }
}

export function backupHandlers(backups: BackupService): ChannelHandlers<'backup.start'> {
  return {
    'backup.start': async ({ source, ...encryption }, { actor }) => ({
      job:
        source.kind === 'local'
          ? await backups.start(source.path, actor, encryption)
          : await backups.startFromVsphere(
              { host: source.host, vm: source.vm, transport: source.transport, quiesce: source.quiesce },
              actor,
              encryption,
            ),
    }),
  };
}
