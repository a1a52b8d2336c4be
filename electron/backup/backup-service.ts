// Starting a backup of a VM folder or of a VM on a vSphere host: the source and, for an encrypted
// chain, its key are checked before a job exists; each committed point is recorded and its files
// indexed in a job of their own.
import { TransportMode, type Job } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { BackupKey, KeyService } from '../keys/key-service.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import { LifeboatError } from '../errors.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { findVm, readVmConfig } from '../drivers/vsphere/vm-config.ts';
import type { BackupWork } from './backup-vm.ts';
import { readSourceVm, vmIdFor, type SourceVm } from '../disks/vm-folder.ts';
import type { PointOrigin } from './point-writer.ts';
import { vsphereSourceOf, type VsphereBackupJob, type VsphereBackupRequest, type VsphereBackupWork } from './vsphere-backup.ts';

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
    vsphereBackup(job: VsphereBackupJob): VsphereBackupWork;
  };
  /** A session on a host of the catalog (the VM is identified before a job exists). */
  connectHost(name: string): Promise<VsphereClient>;
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
    const { catalog } = this.deps;
    const source = await readSourceVm(sourcePath); // a bad source fails here, before a job exists
    const { chainKey, repository } = await this.chainKeyFor(source.vmId, source.vmx.displayName, encryption); // so does a wrong password
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
          (manifest, read) => this.recordPoint(manifest, { source: read.folder, biosUuid: read.vmx.uuid }, actor, repository),
          chainKey,
        ),
    );
  }

  /** A backup of a VM where it runs, on a host of the catalog: the host, the request and the VM
   * (found by name; its BIOS UUID gives its chain) are checked before a job exists, as is the
   * chain's key. The job snapshots the VM and reads the snapshot through the transport. */
  async startFromVsphere(request: VsphereBackupRequest, actor: string, encryption: BackupEncryption = { encrypt: false }): Promise<Job> {
    const { catalog } = this.deps;
    const problem = vsphereRequestProblem(request);
    if (problem) throw new LifeboatError('bad-request', problem);
    if (!catalog.findHost(request.host)) throw new LifeboatError('not-found', `no host "${request.host}" in the catalog`);
    const client = await this.deps.connectHost(request.host);
    let vm: { name: string; vmId: string };
    try {
      const config = await readVmConfig(client, await findVm(client, request.vm));
      vm = { name: config.name, vmId: vmIdFor(config.name, config.uuid ?? config.name) };
    } finally {
      await client.logout();
    }
    const { chainKey, repository } = await this.chainKeyFor(vm.vmId, vm.name, encryption);
    const source = vsphereSourceOf(request.host, vm.name);
    catalog.audit(actor, 'backup.start', vm.vmId, {
      source,
      transport: request.transport,
      quiesce: request.quiesce,
      keyId: chainKey?.key.keyId ?? null,
      newKey: Boolean(chainKey?.newFile),
    });
    const sealed = chainKey ? ` (encrypted, key ${chainKey.key.keyId})` : '';
    return this.deps.jobs.submit(
      {
        kind: 'backup',
        vmId: vm.vmId,
        vmName: vm.name,
        summary: `Back up ${vm.name} from vSphere ${request.host} (${request.transport})${sealed}`,
        params: { source, transport: request.transport, keyId: chainKey?.key.keyId ?? null },
      },
      (jobId) =>
        this.deps.works.vsphereBackup({
          repository,
          jobId,
          request,
          vmId: vm.vmId,
          onCommitted: (manifest, read) => this.recordPoint(manifest, read, actor, repository),
          chainKey,
        }),
    );
  }

  /** The chain's key for this backup (a wrong password fails here), and the repository that
   * holds it when the chain is encrypted. */
  private async chainKeyFor(
    vmId: string,
    vmName: string,
    encryption: BackupEncryption,
  ): Promise<{ chainKey: BackupKey | null; repository: Repository }> {
    const { keys } = this.deps;
    const chainKey = await keys.forBackup(vmId, vmName, encryption);
    if (chainKey && encryption.rememberKey) await keys.remember(chainKey.key);
    const repository = chainKey
      ? this.deps.repository.withKeys(async (keyId) => (keyId === chainKey.key.keyId ? chainKey.key.dataKey : null))
      : this.deps.repository;
    return { chainKey, repository };
  }

  /** A committed point goes in the catalog; its files become searchable in a job of their own. */
  private recordPoint(manifest: Manifest, read: PointOrigin, actor: string, repository: Repository): void {
    this.deps.catalog.recordPoint(manifest, this.deps.repository.info.id, read.source, read.biosUuid);
    this.deps.startIndex(manifest.vmId, manifest.vmName, manifest.id, actor, repository);
  }
}

function vsphereRequestProblem(request: VsphereBackupRequest): string | null {
  for (const field of ['host', 'vm'] as const) {
    const value: unknown = request[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > 200) return `${field} must be a name of 1 to 200 characters`;
  }
  if (!TransportMode.safeParse(request.transport).success)
    return `transport must be auto, san, hotadd or nbd, not ${String(request.transport)}`;
  if (typeof request.quiesce !== 'boolean') return 'quiesce must be true or false';
  return null;
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
