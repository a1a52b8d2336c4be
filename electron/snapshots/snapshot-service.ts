// Storage arrays and their snapshots as restore points: arrays made and opened by name, snapshots
// taken and recorded with the VMs found on them, and restores from a snapshot as jobs.
import { readdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { ArrayView, Job, LocalTarget, StorageSnapshotPoint, VsphereTarget } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { decodeVmxBytes, parseVmx, VMX_MAX_BYTES } from '../disks/vmx.ts';
import { FileArray } from '../drivers/array/file-array.ts';
import type { ArrayConfig } from '../drivers/array/storage-array.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { LifeboatError } from '../errors.ts';
import { snapshotWith } from './snapshot-lookup.ts';
import { CloneWork, type CloneOperation, type CloneRequest } from './clone-work.ts';
import { VmToVsphere } from './vm-to-vsphere.ts';
import type { JobWork } from '../jobs/job-work.ts';
import type { VmSource } from '../restore/vm-source.ts';
import { ItemsFromClone } from './items-from-clone.ts';
import { VmCopy } from './vm-copy.ts';
import type { ArchiveKind } from '../items/archive.ts';
import type { ClashPolicy } from '../items/restore-items.ts';

/** `vsphereRestore`: the entire-VM restore to vSphere of a VM read from `openSource`. */
export type SnapshotDeps = {
  home: string;
  catalog: Catalog;
  jobs: JobQueue;
  checkTarget(target: VsphereTarget, vmName: string): void;
  vsphereRestore(
    jobId: string,
    request: { snapshotId: string; target: VsphereTarget; newName: string | undefined },
    openSource: () => Promise<VmSource>,
  ): JobWork;
};

/** The VMs in a volume's folder (or a snapshot of it): every .vmx up to two folders down. */
async function vmsIn(root: string): Promise<StorageSnapshotPoint['vms']> {
  const found: StorageSnapshotPoint['vms'] = [];
  const walk = async (folder: string, depth: number): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory() && depth < 2) await walk(path, depth + 1);
      else if (entry.isFile() && entry.name.toLowerCase().endsWith('.vmx')) {
        const bytes = await readFile(path);
        if (bytes.length > VMX_MAX_BYTES) continue;
        found.push({ name: parseVmx(decodeVmxBytes(bytes, path), path).displayName, folder: relative(root, folder) });
      }
    }
  };
  await walk(root, 0);
  return found;
}

export class SnapshotService {
  private readonly deps: SnapshotDeps;

  constructor(deps: SnapshotDeps) {
    this.deps = deps;
  }

  array(name: string): FileArray {
    const found = this.deps.catalog.arrays.find(name);
    if (!found) throw new LifeboatError('not-found', `no array "${name}"; \`lifeboat array create <name>\` makes one`);
    return FileArray.open(found.name, found.path);
  }

  async create(
    request: { name: string; path?: string | undefined } & Partial<ArrayConfig>,
    actor: string,
  ): Promise<{ array: ArrayView; volume: { name: string; folder: string } }> {
    if (this.deps.catalog.arrays.find(request.name)) throw new LifeboatError('conflict', `an array named "${request.name}" already exists`);
    const { name, path, ...config } = request;
    const root = resolve(path ?? join(this.deps.home, 'arrays', name));
    const array = await FileArray.create(name, root, config);
    const volume = await array.createVolume('vol1');
    this.deps.catalog.arrays.add(name, root);
    this.deps.catalog.audit(actor, 'array.create', name, { root, ...config });
    return { array: await this.view(array), volume: { name: volume.name, folder: volume.folder } };
  }

  /** Takes a snapshot of a volume (by name or folder) and records it as a restore point. */
  async snapshot(volume: string, actor: string): Promise<StorageSnapshotPoint> {
    for (const known of this.deps.catalog.arrays.list()) {
      const array = FileArray.open(known.name, known.path);
      const summary = await array.summary();
      const owned = summary.volumes.find((candidate) => candidate.name === volume || candidate.folder === resolve(volume));
      if (!owned) continue;
      const snapshot = await array.snapshot(owned.name);
      const point: StorageSnapshotPoint = {
        id: snapshot.id,
        array: known.name,
        volume: owned.name,
        createdAt: snapshot.createdAt,
        vms: await vmsIn(snapshot.folder),
      };
      this.deps.catalog.arrays.recordSnapshot(point);
      this.deps.catalog.audit(actor, 'array.snapshot', snapshot.id, {
        array: known.name,
        volume: owned.name,
        vms: point.vms.map((vm) => vm.name),
      });
      return point;
    }
    throw new LifeboatError('not-found', `no array has a volume "${volume}"; \`lifeboat array show <name>\` lists its volumes`);
  }

  async view(array: FileArray): Promise<ArrayView> {
    const summary = await array.summary();
    const usedBy = (purpose: string): string => this.deps.catalog.getJob(purpose)?.summary ?? purpose;
    return {
      name: summary.name,
      serial: summary.serial,
      root: summary.root,
      protocol: summary.config.protocol,
      address: summary.config.address,
      cloneQuota: summary.config.cloneQuota,
      clonesCreated: summary.clonesCreated,
      volumes: summary.volumes,
      snapshots: summary.snapshots.map(({ id, volume, createdAt }) => ({ id, volume, createdAt })),
      clones: summary.clones.map((clone) => ({
        id: clone.id,
        snapshotId: clone.snapshotId,
        createdAt: clone.createdAt,
        usedBy: usedBy(clone.purpose),
        allowedServers: clone.allowedServers,
        presentations: clone.presentations,
      })),
      hosts: summary.hosts,
    };
  }

  async list(): Promise<ArrayView[]> {
    return Promise.all(this.deps.catalog.arrays.list().map((known) => this.view(FileArray.open(known.name, known.path))));
  }

  /** The snapshot, the VMs checked to be on it, its array and the host that reads the clone
   * (this engine's machine, the proxy, unless another host is named). */
  private cloneRequest(snapshotId: string, vms: string[], host: string | undefined): { array: FileArray; request: CloneRequest } {
    const { snapshot, vms: found } = snapshotWith(this.deps.catalog, snapshotId, vms);
    return { array: this.array(snapshot.array), request: { snapshot, vms: found, host: host ?? hostname() } };
  }

  /** One job, and one clone, for all the VMs asked for: to local folders, or one VM to vSphere. */
  startRestore(
    request: {
      vms: string[];
      snapshot: string;
      target: LocalTarget | VsphereTarget;
      newName?: string | undefined;
      host?: string | undefined;
      reason?: string | undefined;
    },
    actor: string,
  ): Job {
    const { array, request: clone } = this.cloneRequest(request.snapshot, request.vms, request.host);
    const { target } = request;
    if (target.kind === 'vsphere') {
      if (target.original)
        throw new LifeboatError(
          'bad-request',
          'an original-location restore comes from a backup point; a storage snapshot restores to a new VM',
        );
      if (request.vms.length > 1) throw new LifeboatError('bad-request', 'a restore to vSphere takes one VM at a time');
      this.deps.checkTarget(target, request.vms[0] as string);
    }
    const where = target.kind === 'local' ? target.path : `${target.host}${target.datastore ? ` [${target.datastore}]` : ''}`;
    this.deps.catalog.audit(actor, 'restore.fromSnapshot', clone.snapshot.id, {
      vms: request.vms,
      target,
      host: clone.host,
      reason: request.reason ?? null,
    });
    const operation = (jobId: string): CloneOperation =>
      target.kind === 'local'
        ? new VmCopy(jobId, target.path, request.newName)
        : new VmToVsphere((openSource) =>
            this.deps.vsphereRestore(jobId, { snapshotId: clone.snapshot.id, target, newName: request.newName }, openSource),
          );
    return this.deps.jobs.submit(
      {
        kind: 'restore-from-snapshot',
        vmId: null,
        vmName: request.vms.join(', '),
        summary: `Restore ${request.vms.join(', ')} from snapshot ${clone.snapshot.id} to ${where}`,
        params: { ...request, host: clone.host },
        requestedBy: actor,
        reason: request.reason,
      },
      (jobId) => new CloneWork(array, jobId, clone, operation(jobId)),
    );
  }

  /** Picked items of one VM, from a clone of the snapshot. */
  startItemRestore(
    request: {
      vm: string;
      snapshot: string;
      paths: string[];
      targetPath: string;
      onClash: ClashPolicy;
      archive?: ArchiveKind | undefined;
      keepSpecialBits?: boolean | undefined;
      protectedPaths: string[];
      host?: string | undefined;
    },
    actor: string,
  ): Job {
    const { array, request: clone } = this.cloneRequest(request.snapshot, [request.vm], request.host);
    this.deps.catalog.audit(actor, 'files.restoreFromSnapshot', clone.snapshot.id, {
      vm: request.vm,
      paths: request.paths,
      target: request.targetPath,
      host: clone.host,
    });
    const items = {
      paths: request.paths,
      targetPath: request.targetPath,
      onClash: request.onClash,
      archive: request.archive,
      keepSpecialBits: request.keepSpecialBits,
      protectedPaths: request.protectedPaths,
      archiveName: `${request.vm}-${clone.snapshot.id}-items`,
    };
    return this.deps.jobs.submit(
      {
        kind: 'restore-items',
        vmId: null,
        vmName: request.vm,
        summary: `Restore ${request.paths.length} item(s) of ${request.vm} from snapshot ${clone.snapshot.id} to ${request.targetPath}`,
        params: { ...request, host: clone.host },
        requestedBy: actor,
      },
      (jobId) => new CloneWork(array, jobId, clone, new ItemsFromClone(items)),
    );
  }
}
