// The one place the engine builds its jobs' works: the deps every work shares (the block
// workers, the catalog, the repository, the staging folder, the hosts and their proxies) are
// given here once, and each kind of job the services submit has its factory. The services get
// the factories they need through their deps and never build a work themselves. (The tape,
// instant and snapshot services still build their own internal works; they get `restore`,
// `quickMigration` and `snapshotVsphereRestore` from here.)
import { join } from 'node:path';
import type { AzureAccount, VsphereTarget } from '../../shared/domain.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import { BackupWork } from '../backup/backup-vm.ts';
import type { SourceVm } from '../disks/vm-folder.ts';
import { VsphereBackupWork, type VsphereBackupJob } from '../backup/vsphere-backup.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { BlobStore } from '../drivers/azure/blob-store.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { QuickMigrationWork, type MigrationRequest } from '../instant/quick-migration.ts';
import type { SessionHost } from '../instant/session-host.ts';
import { IndexPointWork } from '../items/index-point.ts';
import { PointBrowser } from '../items/point-browser.ts';
import { RestoreItemsWork, type ItemRequest } from '../items/restore-items.ts';
import type { JobWork } from '../jobs/job-work.ts';
import type { StepDefinition } from '../jobs/plan.ts';
import type { BackupKey } from '../keys/key-service.ts';
import { RehearsalWork, type RehearsalOptions } from '../rehearsal/rehearsal.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import { EntireVmLocalRestore, type RestoreRequest } from '../restore/entire-vm-local.ts';
import { EntireVmVsphereRestore } from '../restore/entire-vm-vsphere.ts';
import { OriginalVmVsphereRestore } from '../restore/original-vm-vsphere.ts';
import { RestoreAzureWork, type RestoreAzureRequest } from '../restore/restore-azure.ts';
import { RestoreDisksWork, type RestoreDisksRequest } from '../restore/restore-disks.ts';
import type { PointRestoreRequest } from '../restore/restore-service.ts';
import type { ProxyPool } from '../restore/transport-choice.ts';
import type { MoverHub } from '../movers/mover-hub.ts';
import type { VmSource } from '../restore/vm-source.ts';
import type { VsphereRestoreOptions } from '../restore/vsphere-restore-base.ts';
import type { RestoreTarget } from '../tape/tape-service.ts';
import { VerifyWork, type PointToVerify } from '../verify/verify-chain.ts';
import type { WorkerPool } from '../workers/pool.ts';

export type JobWorksDeps = {
  pool: WorkerPool;
  catalog: Catalog;
  /** The home's repository (manifest hashes checked, remembered keys applied). */
  repository: Repository;
  stagingRoot: string;
  /** Where rehearsal reports are written. */
  reportsFolder: string;
  connectHost(name: string): Promise<VsphereClient>;
  /** The catalog's proxies (a backup reads through one). */
  proxies: ProxyPool;
  /** The catalog's proxies and the connected data movers (a restore writes through one). */
  restoreProxies: ProxyPool;
  movers: MoverHub | null;
  connectAzure(account: AzureAccount): Promise<BlobStore>;
};

export class JobWorks {
  private readonly deps: JobWorksDeps;

  constructor(deps: JobWorksDeps) {
    this.deps = deps;
  }

  /** `repository` holds the chain's key when the backup is encrypted. */
  backup(
    repository: Repository,
    sourceFolder: string,
    onCommitted: (manifest: Manifest, source: SourceVm) => void,
    chainKey: BackupKey | null,
  ): BackupWork {
    return new BackupWork(repository, this.deps.pool, sourceFolder, onCommitted, chainKey, () => this.deps.catalog.auditHead());
  }

  /** A backup of a VM on a vSphere host; `repository` holds the chain's key when it is encrypted. */
  vsphereBackup(job: VsphereBackupJob): VsphereBackupWork {
    const { pool, connectHost, proxies, catalog } = this.deps;
    return new VsphereBackupWork({ ...job, pool, connectHost, proxies, auditHead: () => catalog.auditHead() });
  }

  index(vmId: string, pointId: string, repository = this.deps.repository): IndexPointWork {
    return new IndexPointWork(repository, this.deps.catalog, vmId, pointId);
  }

  verify(repository: Repository, vmId: string, points: PointToVerify[]): VerifyWork {
    return new VerifyWork(repository, this.deps.pool, vmId, points);
  }

  restoreSteps(target: RestoreTarget): readonly StepDefinition[] {
    if (target.kind === 'local') return EntireVmLocalRestore.plan.steps;
    return target.original ? OriginalVmVsphereRestore.plan.steps : EntireVmVsphereRestore.plan.steps;
  }

  /** The restore of a point of `source` (the repository, or a staging one) to a target. */
  restore(source: Repository, jobId: string, request: PointRestoreRequest): JobWork {
    const { target } = request;
    if (target.kind === 'local') {
      const local = { vmId: request.vmId, pointId: request.pointId, targetPath: target.path, newName: request.newName };
      return new EntireVmLocalRestore(source, this.deps.pool, jobId, local);
    }
    const common = this.vsphereRestoreOptions(source, jobId);
    if (target.original)
      return new OriginalVmVsphereRestore({ ...common, request: { vmId: request.vmId, pointId: request.pointId, target } });
    return new EntireVmVsphereRestore({
      ...common,
      request: { vmId: request.vmId, pointId: request.pointId, target, newName: request.newName },
    });
  }

  /** A restore to a local folder that keeps checkpoints, so that it can resume after a stop. */
  localRestore(source: Repository, jobId: string, request: RestoreRequest, resume: boolean): EntireVmLocalRestore {
    const { catalog } = this.deps;
    const published = (): string[] =>
      catalog
        .openResources(jobId)
        .flatMap((resource) => (resource.kind === 'published-file' && typeof resource.ref.path === 'string' ? [resource.ref.path] : []));
    return new EntireVmLocalRestore(source, this.deps.pool, jobId, request, {
      resuming: resume ? { published: published() } : null,
      load: (diskKey) => catalog.loadCheckpoint(jobId, diskKey),
      save: (diskKey, checkpoint) => catalog.saveCheckpoint(jobId, diskKey, checkpoint),
    });
  }

  /** A VM of a storage snapshot restored to vSphere. */
  snapshotVsphereRestore(
    jobId: string,
    request: { snapshotId: string; target: VsphereTarget; newName: string | undefined },
    openSource: () => Promise<VmSource>,
  ): EntireVmVsphereRestore {
    return new EntireVmVsphereRestore({
      ...this.vsphereRestoreOptions(this.deps.repository, jobId),
      request: { vmId: `snapshot ${request.snapshotId}`, pointId: request.snapshotId, target: request.target, newName: request.newName },
      openSource,
    });
  }

  disks(source: Repository, jobId: string, request: RestoreDisksRequest): RestoreDisksWork {
    return new RestoreDisksWork(source, this.deps.pool, jobId, request);
  }

  azure(source: Repository, jobId: string, request: RestoreAzureRequest, account: AzureAccount): RestoreAzureWork {
    return new RestoreAzureWork({
      repository: source,
      pool: this.deps.pool,
      stagingRoot: this.deps.stagingRoot,
      jobId,
      request,
      connect: () => this.deps.connectAzure(account),
    });
  }

  items(source: Repository, vmId: string, pointId: string, request: ItemRequest): RestoreItemsWork {
    return new RestoreItemsWork(() => PointBrowser.open(source, vmId, pointId), request);
  }

  /** A rehearsal restores each VM with the same restore work a normal restore uses. */
  rehearsal(options: Pick<RehearsalOptions, 'jobId' | 'vms' | 'target' | 'keep'>): RehearsalWork {
    const { repository, pool, connectHost } = this.deps;
    return new RehearsalWork({
      ...options,
      reportsFolder: this.deps.reportsFolder,
      repository,
      pool,
      connectHost,
      restoreWork: (vm, restoredAs, rehearsalTarget) =>
        // Its own id per VM: restores running side by side must not share staging folders.
        this.restore(repository, `${options.jobId}-${vm.vmId}`, {
          vmId: vm.vmId,
          pointId: vm.pointId,
          target:
            rehearsalTarget.kind === 'local'
              ? { kind: 'local', path: join(rehearsalTarget.path, escapeGuestName(restoredAs).name) }
              : rehearsalTarget,
          newName: restoredAs,
        }),
    });
  }

  /** An instant session's VM copied to a datastore while it runs, then switched over. */
  quickMigration(sessions: SessionHost, sessionId: string, jobId: string, request: MigrationRequest): QuickMigrationWork {
    return new QuickMigrationWork(sessions, sessionId, request, {
      copyWork: (copy) =>
        this.restore(sessions.sourceOf(sessionId), jobId, {
          vmId: copy.vmId,
          pointId: copy.pointId,
          newName: copy.newName,
          target: {
            kind: 'vsphere',
            host: copy.host,
            datastore: copy.datastore,
            transport: copy.transport,
            diskFormat: copy.transport === 'san' ? 'thick' : 'thin',
            ...(copy.hostSystem ? { hostSystem: copy.hostSystem } : {}),
          },
        }),
      proxyNamed: (name) => this.deps.catalog.listProxies().find((proxy) => proxy.name === name) ?? null,
    });
  }

  /** What every restore to vSphere is given, whatever it restores from. */
  private vsphereRestoreOptions(source: Repository, jobId: string): Omit<VsphereRestoreOptions, 'request'> {
    return {
      repository: source,
      pool: this.deps.pool,
      connectHost: this.deps.connectHost,
      proxies: this.deps.restoreProxies,
      movers: this.deps.movers,
      stagingRoot: this.deps.stagingRoot,
      jobId,
    };
  }
}
