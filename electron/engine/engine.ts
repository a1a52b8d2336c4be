// The engine: catalog, repository, workers and the job queue of one home, behind the contract's
// request handlers. Headless by design: nothing here knows about Electron. It holds its home's
// local socket, which is the home's lock and the CLI's way in.
import type { z } from 'zod';
import { requestChannels, type RequestChannel, type ResponseOf } from '../../shared/contract.ts';
import type { Job } from '../../shared/domain.ts';
import { BackupWork, backupSteps } from '../backup/backup-vm.ts';
import { readSourceVm } from '../backup/source-vm.ts';
import { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { prepareHome, type HomePaths } from '../home.ts';
import { Repository } from '../repository/repository.ts';
import { EntireVmLocalRestore, restoreSteps } from '../restore/entire-vm-local.ts';
import { WorkerPool } from '../workers/pool.ts';
import { EngineEvents } from './events.ts';
import { JobQueue } from './job-queue.ts';
import { join } from 'node:path';
import type { Server } from 'node:net';
import { listenLocalSocket } from '../rpc/local-socket.ts';

export const ENGINE_VERSION = '0.1.0';
const DEFAULT_REPOSITORY = 'default';

export type EngineOptions = { home: string; workerThreads?: number; concurrentJobs?: number; blockSize?: number };

type Parsed<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['request']>;
export type Handlers = { [C in RequestChannel]: (request: Parsed<C>) => Promise<ResponseOf<C>> };

export class Engine {
  readonly events = new EngineEvents();
  readonly paths: HomePaths;
  readonly catalog: Catalog;
  readonly repository: Repository;
  readonly jobs: JobQueue;
  private readonly pool: WorkerPool;
  private readonly socket: Server;
  readonly handlers: Handlers;

  private constructor(paths: HomePaths, socket: Server, catalog: Catalog, repository: Repository, pool: WorkerPool, concurrentJobs: number) {
    this.paths = paths;
    this.socket = socket;
    this.catalog = catalog;
    this.repository = repository;
    this.pool = pool;
    this.jobs = new JobQueue(catalog, this.events, concurrentJobs);
    this.handlers = this.makeHandlers();
  }

  /** Opens the engine of a home. It first claims the home's socket, so a second engine for the
   * same home fails with 'conflict' before it could mistake the first one's jobs for dead ones;
   * from then on the engine serves the contract there (the CLI's way in). */
  static async open(options: EngineOptions): Promise<Engine> {
    const paths = await prepareHome(options.home);
    let opened: Engine | null = null;
    const socket = await listenLocalSocket(() => opened, paths.socket);
    let catalog: Catalog | null = null;
    try {
      catalog = Catalog.open(paths.catalog);
      const repository = await Repository.openOrCreate(join(paths.repositories, DEFAULT_REPOSITORY), DEFAULT_REPOSITORY, options.blockSize);
      catalog.ensureRepository({ id: repository.info.id, name: DEFAULT_REPOSITORY, path: repository.path, blockSize: repository.info.blockSize });
      const engine = new Engine(paths, socket, catalog, repository, new WorkerPool(options.workerThreads), options.concurrentJobs ?? 2);
      engine.jobs.recoverAfterRestart();
      await engine.reconcileCatalog();
      opened = engine;
      return engine;
    } catch (error) {
      catalog?.close();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      throw error;
    }
  }

  /** The repository is the truth: index any committed point the catalog has not seen. */
  private async reconcileCatalog(): Promise<void> {
    for (const vmId of await this.repository.listVmIds()) {
      for (const manifest of await this.repository.listPoints(vmId)) {
        if (!this.catalog.hasPoint(manifest.id)) this.catalog.recordPoint(manifest, this.repository.info.id, null, null);
      }
    }
  }

  resolveVm(idOrName: string): { id: string; name: string } {
    const vm = this.catalog.findVm(idOrName);
    if (!vm) throw new LifeboatError('not-found', `no VM "${idOrName}" in the catalog; \`lifeboat vms\` lists them`);
    if (vm.matches > 1) throw new LifeboatError('conflict', `${vm.matches} VMs are named "${idOrName}"; use the VM id`);
    return vm;
  }

  resolvePointId(vmId: string, point: string): string {
    const points = this.catalog.listPoints(vmId);
    if (points.length === 0) throw new LifeboatError('not-found', `VM ${vmId} has no restore points`);
    if (point === 'latest') return (points[0] as (typeof points)[number]).id;
    const bySequence = /^\d+$/.test(point) ? points.find((candidate) => candidate.sequence === Number(point)) : undefined;
    const match = bySequence ?? points.find((candidate) => candidate.id === point || (point.length >= 8 && candidate.id.startsWith(point)));
    if (!match) throw new LifeboatError('not-found', `VM ${vmId} has no restore point "${point}"; \`lifeboat points <vm>\` lists them`);
    return match.id;
  }

  async startBackup(sourcePath: string, actor: string): Promise<Job> {
    const source = await readSourceVm(sourcePath); // a bad source fails here, before a job exists
    this.catalog.audit(actor, 'backup.start', source.vmId, { source: source.folder });
    return this.jobs.submit(
      { kind: 'backup', vmId: source.vmId, vmName: source.vmx.displayName, summary: `Back up ${source.vmx.displayName} from ${source.folder}`, params: { source: source.folder }, steps: backupSteps },
      () =>
        new BackupWork(this.repository, this.pool, source.folder, (manifest, read) =>
          this.catalog.recordPoint(manifest, this.repository.info.id, read.folder, read.vmx.uuid),
        ),
    );
  }

  async startRestore(request: Parsed<'restore.entireVm'>, actor: string): Promise<Job> {
    const vm = this.resolveVm(request.vm);
    const pointId = this.resolvePointId(vm.id, request.point);
    const name = request.newName ?? vm.name;
    this.catalog.audit(actor, 'restore.entireVm', vm.id, { pointId, target: request.target, newName: request.newName ?? null });
    return this.jobs.submit(
      { kind: 'restore-entire-vm', vmId: vm.id, vmName: vm.name, summary: `Restore ${vm.name} as ${name} to ${request.target.path}`, params: { ...request, pointId }, steps: restoreSteps },
      (job) => new EntireVmLocalRestore(this.repository, this.pool, job.id, { vmId: vm.id, pointId, targetPath: request.target.path, newName: request.newName }),
    );
  }

  private makeHandlers(): Handlers {
    return {
      'engine.info': async () => ({ version: ENGINE_VERSION, home: this.paths.home, repositoryPath: this.repository.path, workerThreads: this.pool.size }),
      'vms.list': async () => this.catalog.listVms(),
      'points.list': async ({ vm }) => this.catalog.listPoints(this.resolveVm(vm).id),
      'jobs.list': async () => this.catalog.listJobs(),
      'jobs.get': async ({ jobId }) => {
        const job = this.catalog.getJob(jobId);
        if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
        return { job, events: this.catalog.jobEvents(jobId) };
      },
      'jobs.cancel': async ({ jobId }) => ({ job: this.jobs.cancel(jobId) }),
      'backup.start': async ({ source }) => ({ job: await this.startBackup(source.path, 'console') }),
      'restore.entireVm': async (request) => ({ job: await this.startRestore(request, 'console') }),
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    await this.jobs.close();
    await this.pool.close();
    this.catalog.close();
  }
}
