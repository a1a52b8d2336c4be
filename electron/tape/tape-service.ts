// The engine's tape side: the library of the home, the operator prompts, and the tape jobs
// (backup to tape, catalog a tape, restore from tape directly or through staging) with the
// coordinator that reads each tape once for all the restores of a request.
import { escapeGuestName } from '../../shared/guest-names.ts';
import { finishedJobStates } from '../../shared/domain.ts';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Job, Prompt, PullListEntry, TapeInventory, TapeLibrarySummary, VsphereTarget, LocalTarget } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { EngineEvents } from '../jobs/events.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { StepDefinition } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { VirtualTapeLibrary } from '../drivers/tape/virtual-library.ts';
import { LTO9 } from '../drivers/tape/library-state.ts';
import type { TapeLibrary } from '../drivers/tape/tape-driver.ts';
import type { SecretStore } from '../secrets/secret-store.ts';
import { LibraryChoice, type AddLibraryRequest, type LibraryOpener, type OpenedLibrary } from './library-config.ts';
import { PassCoordinator } from './pass-coordinator.ts';
import { PromptBoard } from './prompt-board.ts';
import { TapeBackupWork } from './tape-backup.ts';
import { mustBeBrought, runTapePass, tapeRequest, wantedByTape, type PassConsumer, type TapeReport } from './tape-pass.ts';
import { TapeVmRestore } from './tape-restore.ts';
import { StagedRestore, TapeStageWork } from './tape-stage.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { TapeCatalogWork } from './tape-scan.ts';
import { FRAME_HEADER_BYTES } from './tape-format.ts';

export type RestoreTarget = LocalTarget | VsphereTarget;

export type TapeServiceDeps = {
  /** The virtual library's folder. */
  folder: string;
  secrets: SecretStore;
  /** Opens a real library by its address (drivers/scsi/open-library.ts). */
  openLibrary: LibraryOpener;
  stagingRoot: string;
  catalog: Catalog;
  events: EngineEvents;
  jobs: JobQueue;
  pool: WorkerPool;
  /** The points to copy to tape, resolved from VM names or ids. */
  resolvePoint(vm: string, point: string): { vmId: string; vmName: string; pointId: string };
  /** A normal restore of a point of `repository` (for the staged path). */
  restoreWork(
    repository: Repository,
    jobId: string,
    request: { vmId: string; pointId: string; target: RestoreTarget; newName?: string | undefined },
  ): JobWork;
  /** The steps of that restore, known before the backup is staged. */
  restoreSteps(target: RestoreTarget): readonly StepDefinition[];
  /** The engine's rules for a restore target (host known, original location confirmed). */
  checkTarget(target: RestoreTarget, vmName: string): { holdFor?: string };
};

export type CreateLibraryRequest = {
  slots: number;
  drives: number;
  mailslots: number;
  tapes: number;
  capacityBytes: number;
  timeScale: number;
  rateScale: number;
  bufferBytes?: number | undefined;
};

export class TapeService {
  readonly prompts: PromptBoard;
  private readonly deps: TapeServiceDeps;
  private readonly coordinator: PassCoordinator;
  private readonly choice: LibraryChoice;

  constructor(deps: TapeServiceDeps) {
    this.deps = deps;
    this.choice = new LibraryChoice({ folder: deps.folder, catalog: deps.catalog, secrets: deps.secrets, open: deps.openLibrary });
    this.prompts = new PromptBoard(deps.catalog, deps.events, (barcode) => this.isOnline(barcode));
    this.coordinator = new PassCoordinator((consumers, finished) => this.runPass(consumers, finished));
    // A tape job that ends before it joins a pass must not hold the others up.
    deps.events.on('job.updated', (job) => {
      if (job.state === 'failed' || job.state === 'cancelled' || job.state === 'interrupted') this.coordinator.left(job.id);
    });
  }

  /** The library tape jobs use (a configured real one, or the virtual one), checked to answer. */
  async library(): Promise<TapeLibrary> {
    return (await this.answering()).opened.library;
  }

  /** The virtual library, for what only it can do (tape images, fault drills). */
  async virtualLibrary(): Promise<VirtualTapeLibrary> {
    const opened = await this.choice.current();
    if (opened.kind !== 'virtual')
      throw new LifeboatError('bad-request', `the home uses the real tape library ${opened.config.name}, not the virtual one`);
    return opened.library;
  }

  /** The library's inventory; a real library that stopped answering is let go, so the next use
   * connects again. */
  private async answering(): Promise<{ opened: OpenedLibrary; inventory: Awaited<ReturnType<TapeLibrary['inventory']>> }> {
    const opened = await this.choice.current();
    try {
      return { opened, inventory: await opened.library.inventory() };
    } catch (error) {
      if (opened.kind === 'real' && error instanceof LifeboatError && error.code === 'unavailable') await this.choice.release();
      throw error;
    }
  }

  /** Changing the library under a tape job would pull its tapes away. */
  private refuseWhileTapeJobsRun(what: string): void {
    const running = this.deps.catalog.listJobs().filter((job) => job.kind.startsWith('tape-') && !finishedJobStates.has(job.state));
    if (running.length > 0)
      throw new LifeboatError('conflict', `${what} must wait: ${running.length} tape job(s) are not finished (${running[0]?.summary})`);
  }

  async addLibrary(request: AddLibraryRequest, actor: string): Promise<{ library: TapeLibrarySummary; inventory: TapeInventory }> {
    this.refuseWhileTapeJobsRun('adding a tape library');
    const library = await this.choice.add(request, actor);
    return { library, inventory: await this.inventory() };
  }

  listLibraries(): ReturnType<LibraryChoice['list']> {
    return this.choice.list();
  }

  async useLibrary(name: string, actor: string): Promise<TapeInventory> {
    this.refuseWhileTapeJobsRun(`switching to tape library "${name}"`);
    await this.choice.use(name, actor);
    return this.inventory();
  }

  async removeLibrary(name: string, actor: string): Promise<{ removed: string }> {
    this.refuseWhileTapeJobsRun(`removing tape library "${name}"`);
    return this.choice.remove(name, actor);
  }

  /** Logs out of a real library (engine close). */
  close(): Promise<void> {
    return this.choice.release();
  }

  private async isOnline(barcode: string): Promise<boolean> {
    const tape = (await this.answering()).inventory.cartridges.find((cartridge) => cartridge.barcode === barcode);
    return tape !== undefined && (tape.location.kind === 'slot' || tape.location.kind === 'drive');
  }

  /** Makes the virtual library (the demo lab's) and makes it the one tape jobs use. */
  async createLibrary(request: CreateLibraryRequest): Promise<TapeInventory> {
    this.refuseWhileTapeJobsRun('creating the virtual library');
    await VirtualTapeLibrary.create(this.deps.folder, {
      slots: request.slots,
      drives: request.drives,
      mailslots: request.mailslots,
      tapes: request.tapes,
      capacityBytes: request.capacityBytes,
      timeScale: request.timeScale,
      model: {
        bytesPerSecond: LTO9.bytesPerSecond * request.rateScale,
        minBytesPerSecond: LTO9.minBytesPerSecond * request.rateScale,
        ...(request.bufferBytes ? { bufferBytes: request.bufferBytes } : {}),
      },
    });
    await this.choice.useVirtual();
    return this.inventory();
  }

  async inventory(): Promise<TapeInventory> {
    const { opened, inventory } = await this.answering();
    const volumes = new Map(this.deps.catalog.tapes.volumes().map((volume) => [volume.barcode, volume]));
    return {
      name: inventory.name,
      slots: inventory.slots,
      drives: inventory.drives,
      mailslots: inventory.mailslots,
      cartridges: inventory.cartridges.map((cartridge) => {
        const volume = volumes.get(cartridge.barcode);
        return { ...cartridge, mediaSetId: volume?.mediaSetId ?? null, pool: volume?.pool ?? null, bytes: volume?.bytes ?? null };
      }),
      model: { name: inventory.model.name, bytesPerSecond: inventory.model.bytesPerSecond, loadSeconds: inventory.model.loadSeconds },
      timeScale: inventory.timeScale,
      source: opened.source,
    };
  }

  async importTape(barcode: string, image: string | undefined, actor: string): Promise<TapeInventory> {
    const opened = await this.choice.current();
    if (image) {
      if (opened.kind !== 'virtual')
        throw new LifeboatError(
          'bad-request',
          `a tape image can only be imported into the virtual library; ${opened.config.name} is a real library: put the cartridge into a mail slot and run \`tape import ${barcode}\``,
        );
      await opened.library.addCartridge(barcode, { image: resolve(image) });
    }
    await opened.library.importTape(barcode);
    this.deps.catalog.audit(actor, 'tape.import', barcode, { image: image ?? null });
    return this.inventory();
  }

  async ejectTape(barcode: string, actor: string): Promise<TapeInventory> {
    await (await this.library()).exportTape(barcode);
    this.deps.catalog.audit(actor, 'tape.eject', barcode, {});
    return this.inventory();
  }

  async startBackup(vms: string[], pool: string, point: string, actor: string): Promise<Job> {
    const library = await this.library();
    const points = vms.map((vm) => this.deps.resolvePoint(vm, point));
    this.deps.catalog.audit(actor, 'tape.backup', null, { pool, points });
    return this.deps.jobs.submit(
      {
        kind: 'tape-backup',
        vmId: null,
        vmName: points.map((entry) => entry.vmName).join(', '),
        summary: `Back up ${points.map((entry) => entry.vmName).join(', ')} to tape (pool ${pool})`,
        params: { pool, points },
      },
      (jobId) =>
        new TapeBackupWork({
          repository: this.repositoryOf(),
          catalog: this.deps.catalog,
          library,
          request: { points, pool },
          jobId,
        }),
    );
  }

  private repository: Repository | null = null;

  /** Set once by the engine: the repository tape backups copy from. */
  useRepository(repository: Repository): void {
    this.repository = repository;
  }

  private repositoryOf(): Repository {
    if (!this.repository) throw new LifeboatError('internal', 'the tape service has no repository');
    return this.repository;
  }

  async startCatalog(barcode: string, actor: string): Promise<Job> {
    const { opened, inventory } = await this.answering();
    const library = opened.library;
    const place = placeIn(inventory);
    this.deps.catalog.audit(actor, 'tape.catalog', barcode, {});
    return this.deps.jobs.submit(
      { kind: 'tape-catalog', vmId: null, vmName: barcode, summary: `Catalog tape ${barcode}`, params: { barcode } },
      (jobId) => new TapeCatalogWork({ barcode, jobId, library, catalog: this.deps.catalog, prompts: this.prompts, place }),
    );
  }

  /** The copy on tape of a VM's point: 'latest', a sequence number, or a point id (prefix). */
  copyFor(vm: string, point: string): TapeCopy {
    const copies = this.deps.catalog.tapes.copiesOf(vm);
    if (copies.length === 0)
      throw new LifeboatError(
        'not-found',
        `no backup of "${vm}" is on tape in the catalog; \`lifeboat tape copies\` lists them, \`lifeboat tape catalog\` reads a tape`,
      );
    const match =
      point === 'latest'
        ? copies[0]
        : /^\d+$/.test(point)
          ? copies.find((copy) => copy.manifest.sequence === Number(point))
          : copies.find((copy) => copy.manifest.id === point || (point.length >= 8 && copy.manifest.id.startsWith(point)));
    if (!match) throw new LifeboatError('not-found', `"${vm}" has no point "${point}" on tape`);
    return match;
  }

  /** The tapes a restore of these copies reads, in order, with where they are and how long. */
  async pullList(copies: TapeCopy[]): Promise<PullListEntry[]> {
    const { inventory } = await this.answering();
    const model = inventory.model;
    const entries: PullListEntry[] = [];
    const bySet = new Map<string, TapeCopy[]>();
    for (const copy of copies) bySet.set(copy.mediaSetId, [...(bySet.get(copy.mediaSetId) ?? []), copy]);
    for (const [mediaSetId, setCopies] of bySet) {
      const volumes = this.deps.catalog.tapes.volumes(mediaSetId);
      const wanted = wantedByTape(setCopies);
      for (const sequence of [...wanted.keys()].sort((a, b) => a - b)) {
        const volume = volumes.find((candidate) => candidate.sequence === sequence);
        if (!volume)
          throw new LifeboatError(
            'not-found',
            `the restore needs tape ${sequence} of media set ${mediaSetId.slice(0, 8)}, which is not in the catalog; catalog it with \`lifeboat tape catalog <barcode>\``,
          );
        const items = wanted.get(sequence) ?? [];
        const bytes = items.reduce((sum, item) => sum + item.storedLength + FRAME_HEADER_BYTES, 0);
        const cartridge = inventory.cartridges.find((tape) => tape.barcode === volume.barcode);
        const location = cartridge
          ? cartridge.location.kind === 'offline'
            ? 'offline'
            : `${cartridge.location.kind} ${cartridge.location.index + 1}`
          : 'unknown to the library';
        const readSeconds = Math.max(...items.map((item) => item.offset + item.storedLength), 0) / model.bytesPerSecond;
        entries.push({
          order: entries.length + 1,
          barcode: volume.barcode,
          location,
          online: cartridge !== undefined && cartridge.location.kind !== 'offline' && cartridge.location.kind !== 'mailslot',
          bytes,
          estimatedSeconds: Math.round(
            model.loadSeconds +
              1 +
              readSeconds +
              model.fullRewindSeconds * Math.min(1, bytes / Math.max(1, cartridge?.capacityBytes ?? 1)) +
              model.unloadSeconds,
          ),
          vms: setCopies.filter((copy) => items.some((item) => item.copyId === copy.id)).map((copy) => copy.manifest.vmName),
        });
      }
    }
    return entries;
  }

  async startRestore(
    request: { vms: string[]; point: string; target: RestoreTarget; staging?: string | undefined; reason?: string | undefined },
    actor: string,
  ): Promise<{ jobs: Job[]; pullList: PullListEntry[] }> {
    const copies = request.vms.map((vm) => this.copyFor(vm, request.point));
    // An original-location restore through staging is held for approval like any other.
    const held = this.deps.checkTarget(request.target, copies.map((copy) => copy.manifest.vmName).join(', '));
    if (new Set(copies.map((copy) => copy.id)).size !== copies.length) throw new LifeboatError('bad-request', 'the same VM is named twice');
    const pullList = await this.pullList(copies);
    const who = actor;
    this.deps.catalog.audit(who, 'restore.tape', null, {
      vms: copies.map((copy) => copy.manifest.vmName),
      point: request.point,
      target: request.target,
      staging: request.staging ?? null,
      reason: request.reason ?? null,
    });
    const requestId = randomUUID();
    const staged = request.staging !== undefined || request.target.kind === 'vsphere';
    const jobs: Job[] = [];
    const targetFor = (copy: TapeCopy): RestoreTarget =>
      request.target.kind === 'local' && copies.length > 1
        ? { kind: 'local', path: join(request.target.path, escapeGuestName(copy.manifest.vmName).name) }
        : request.target;
    const where = request.target.kind === 'local' ? request.target.path : request.target.host;
    if (!staged) {
      const submitted = copies.map((copy) =>
        this.deps.jobs.submit(
          {
            kind: 'tape-restore',
            vmId: copy.manifest.vmId,
            vmName: copy.manifest.vmName,
            summary: `Restore ${copy.manifest.vmName} from tape to ${where}`,
            params: { ...request, pointId: copy.manifest.id, mediaSetId: copy.mediaSetId },
            requestedBy: who,
            reason: request.reason,
            outsideLimit: true,
          },
          (jobId) =>
            new TapeVmRestore({
              copy,
              targetPath: (targetFor(copy) as LocalTarget).path,
              jobId,
              pool: this.deps.pool,
              coordinator: this.coordinator,
            }),
        ),
      );
      // Declared in the same turn as the submits: no job can reach its transfer before this.
      this.coordinator.expect(submitted.map((job) => job.id));
      return { jobs: submitted, pullList };
    }
    const stagingRoot = resolve(request.staging ?? this.deps.stagingRoot);
    const stageIds: string[] = [];
    for (const copy of copies) {
      const stagingPath = join(stagingRoot, `lifeboat-tape-staging-${requestId.slice(0, 8)}-${copy.manifest.vmId}`);
      const stage = this.deps.jobs.submit(
        {
          kind: 'tape-stage',
          vmId: null,
          vmName: copy.manifest.vmName,
          summary: `Copy ${copy.manifest.vmName} from tape to staging ${stagingPath}`,
          params: { pointId: copy.manifest.id, mediaSetId: copy.mediaSetId, stagingPath },
          requestedBy: who,
          reason: request.reason,
          outsideLimit: true,
        },
        (jobId) => new TapeStageWork({ copy, stagingPath, jobId, coordinator: this.coordinator }),
      );
      stageIds.push(stage.id);
      const target = targetFor(copy);
      const vmJob = this.deps.jobs.submit(
        {
          kind: 'tape-restore',
          vmId: copy.manifest.vmId,
          vmName: copy.manifest.vmName,
          summary: `Restore ${copy.manifest.vmName} from tape through staging to ${where}`,
          params: { ...request, pointId: copy.manifest.id, stageJobId: stage.id },
          requestedBy: who,
          reason: request.reason,
          outsideLimit: true,
          ...held,
        },
        (jobId) =>
          new StagedRestore({
            stagingPath,
            restoreSteps: this.deps.restoreSteps(target),
            stageEnded: (signal) => untilEnded(this.deps.jobs, stage.id, signal),
            openRestore: (repository) =>
              this.deps.restoreWork(repository, jobId, { vmId: copy.manifest.vmId, pointId: copy.manifest.id, target }),
          }),
      );
      jobs.push(stage, vmJob);
    }
    this.coordinator.expect(stageIds);
    return { jobs, pullList };
  }

  /** Reads the tapes of each media set the consumers need, one set after the other, having
   * asked at once, in pull-list order, for every tape that is not in the library. */
  private async runPass(
    consumers: PassConsumer[],
    finished: (consumer: PassConsumer, reports: TapeReport[]) => void,
  ): Promise<TapeReport[]> {
    const { opened, inventory } = await this.answering();
    const library = opened.library;
    const place = placeIn(inventory);
    const reports: TapeReport[] = [];
    const sets = [...new Set(consumers.map((consumer) => consumer.copy.mediaSetId))].map((mediaSetId) => ({
      members: consumers.filter((consumer) => consumer.copy.mediaSetId === mediaSetId),
      volumes: this.deps.catalog.tapes.volumes(mediaSetId),
    }));
    const raised = new Map<string, Prompt>();
    for (const { members, volumes } of sets) {
      const wanted = wantedByTape(members.map((member) => member.copy));
      for (const volume of [...volumes].sort((a, b) => a.sequence - b.sequence)) {
        const users = members.filter((member) => wanted.get(volume.sequence)?.some((entry) => entry.copyId === member.copy.id));
        const cartridge = inventory.cartridges.find((tape) => tape.barcode === volume.barcode);
        if (users.length > 0 && mustBeBrought(cartridge?.location))
          raised.set(volume.barcode, this.prompts.raise(tapeRequest(volume, users, place)));
      }
    }
    try {
      for (const { members, volumes } of sets) {
        reports.push(
          ...(await runTapePass({
            library,
            prompts: this.prompts,
            volumes,
            consumers: members,
            owner: `tape restore of ${members.map((member) => member.label).join(', ')}`,
            place,
            raised,
            finished,
          })),
        );
      }
    } finally {
      // Tapes nobody waited for in the end (their restores failed or were cancelled).
      for (const prompt of raised.values()) this.prompts.withdraw(prompt.id);
    }
    return reports;
  }
}

/** Where an operator puts a tape: a mail slot, or a drive for standalone drives. */
function placeIn(inventory: { name: string; slots: unknown[] }): string {
  return inventory.slots.length === 0 ? `a free drive of ${inventory.name}` : `a mail slot of ${inventory.name}`;
}

function untilEnded(jobs: JobQueue, jobId: string, signal: AbortSignal): Promise<Job> {
  return new Promise((resolvePromise, reject) => {
    const abort = (): void => reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    jobs.whenEnded(jobId).then((job) => {
      signal.removeEventListener('abort', abort);
      resolvePromise(job);
    }, reject);
  });
}
