// The engine's composition root: it opens a home (catalog, repository, secrets, block workers,
// job queue), builds the services with their explicit deps, and registers each service area's
// request handlers. Headless by design: nothing here knows about Electron, and it opens no
// socket: whoever opens it claims the home first (rpc/open-served-engine.ts serves it on the
// home's local socket, which is the home's lock and the CLI's way in).
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isRequestChannel, requestChannels, type RequestChannel } from '../../shared/contract.ts';
import type { Job } from '../../shared/domain.ts';
import { Catalog } from '../catalog/catalog.ts';
import { reconcileCatalog } from '../catalog/reconcile.ts';
import { VmLookup } from '../catalog/vm-lookup.ts';
import { DEFAULT_REPOSITORY, homePaths, prepareHome, type HomePaths } from '../home.ts';
import { makeAskedCatalogMove } from '../catalog/catalog-move.ts';
import { Repository } from '../repository/repository.ts';
import { WorkerPool, workerDecoder } from '../workers/pool.ts';
import { BlockCache, blockCacheBytesFrom } from '../repository/block-cache.ts';
import { sharingDecoder } from '../repository/point-disk.ts';
import { EngineEvents } from '../jobs/events.ts';
import { JobQueue, type FaultInjector, type SharedJobs } from '../jobs/job-queue.ts';
import { SharedQueue } from '../jobs/shared-queue.ts';
import { SharedEvents } from '../jobs/shared-events.ts';
import { Janitor } from '../jobs/janitor.ts';
import { registerFileCleaners } from '../jobs/file-cleaners.ts';
import { FileSecretStore } from '../secrets/secret-store.ts';
import type { Sealer } from '../secrets/sealer.ts';
import { keySourceFromProcess, type KeySource } from '../secrets/key-source.ts';
import { checkKeySource } from '../secrets/store-key.ts';
import { SessionStore, type SessionLimits } from '../auth/session-store.ts';
import { AuthService } from '../auth/auth-service.ts';
import { connectionHandlers, isConnectionChannel, type ConnectionChannel, type ConnectionHandlers } from '../auth/auth-handlers.ts';
import { accountHandlers } from '../auth/account-handlers.ts';
import { KeyService } from '../keys/key-service.ts';
import { keyHandlers } from '../keys/key-handlers.ts';
import { CopyService } from '../copies/copy-service.ts';
import { copyHandlers } from '../copies/copy-handlers.ts';
import { HostService, hostHandlers } from '../hosts/host-service.ts';
import { MoverEnrollment } from '../movers/enrollment.ts';
import { moverHandlers } from '../movers/mover-handlers.ts';
import { MoverHub } from '../movers/mover-hub.ts';
import { AzureAccounts, azureHandlers } from '../azure/azure-accounts.ts';
import { TargetChecks } from '../restore/target-checks.ts';
import { RestoreService, localRestoreOf, restoreHandlers } from '../restore/restore-service.ts';
import { registerVsphereCleaners } from '../restore/vsphere-cleaners.ts';
import { FilesService, filesHandlers, indexRerun } from '../items/files-service.ts';
import { BackupService, backupHandlers } from '../backup/backup-service.ts';
import { VerifyService, verifyHandlers } from '../verify/verify-service.ts';
import { RehearsalService, rehearsalHandlers } from '../rehearsal/rehearsal-service.ts';
import { TapeService } from '../tape/tape-service.ts';
import { tapeHandlers } from '../tape/tape-handlers.ts';
import { InstantService } from '../instant/instant-service.ts';
import { instantHandlers } from '../instant/instant-handlers.ts';
import { SnapshotService } from '../snapshots/snapshot-service.ts';
import { snapshotHandlers } from '../snapshots/snapshot-handlers.ts';
import { registerArrayCloneCleaner } from '../snapshots/array-clone-cleaner.ts';
import { HandlerRegistry, type ChannelHandlers } from '../handlers/handler-registry.ts';
import { JobWorks } from './job-works.ts';
import { homeHandlers } from './home-handlers.ts';
import { catalogHandlers } from './catalog-handlers.ts';
import { VmPlaces } from './vm-places.ts';
import { jobsHandlers } from './jobs-handlers.ts';

/** What holds a home for its engine while it runs (the rpc layer's local socket): released when
 * the engine closes, after its jobs have ended and their followers have heard. */
export type HomeClaim = { close(): Promise<void> };
/** Claims the home before the catalog opens; a home another engine holds fails with 'conflict'. */
export type ClaimHome = (paths: HomePaths) => Promise<HomeClaim>;

/** Every channel but sign-in's, which acts on the connection (electron/auth/auth-handlers.ts). */
export type EngineChannel = Exclude<RequestChannel, ConnectionChannel>;
export type Handlers = ChannelHandlers<EngineChannel>;
const engineChannels = Object.keys(requestChannels).filter(
  (channel): channel is EngineChannel => isRequestChannel(channel) && !isConnectionChannel(channel),
);

/** `sealer` lets the Electron app keep passwords in the OS keyring (safeStorage), `formerSealer`
 * re-seals what an older app sealed with safeStorage's fixed-password backend; `secretsKey`
 * is the headless key source (by default chosen from the environment, key-source.ts).
 * `injectFault` is for the fault-matrix tests: it fails a job right after a chosen step.
 * `sessionLimits` and `now` set how long console session keys live (tests inject a clock). */
export type EngineOptions = {
  home: string;
  workerThreads?: number;
  concurrentJobs?: number;
  blockSize?: number;
  sealer?: Sealer;
  formerSealer?: Sealer;
  secretsKey?: KeySource;
  injectFault?: FaultInjector;
  sessionLimits?: Partial<SessionLimits>;
  now?: () => number;
  /** Bytes of decoded backup blocks the engine keeps for every Instant Recovery session at once
   * (default `blockCacheBytesFrom(process.env)`: 256 MiB). */
  blockCacheBytes?: number;
  /** Share the (PostgreSQL) catalog and its job queue with other engines (`serve --shared`). */
  shared?: boolean;
};

export class Engine {
  readonly events = new EngineEvents();
  readonly paths: HomePaths;
  readonly catalog: Catalog;
  readonly repository: Repository;
  readonly jobs: JobQueue;
  private readonly pool: WorkerPool;
  private readonly claim: HomeClaim;
  private readonly secrets: FileSecretStore;
  readonly handlers: Handlers;
  readonly auth: AuthService;
  readonly connectionHandlers: ConnectionHandlers;
  readonly lookup: VmLookup;
  readonly checks: TargetChecks;
  readonly hosts: HostService;
  readonly azure: AzureAccounts;
  readonly restores: RestoreService;
  readonly files: FilesService;
  readonly backups: BackupService;
  readonly verifies: VerifyService;
  readonly rehearsals: RehearsalService;
  readonly tape: TapeService;
  readonly instant: InstantService;
  readonly snapshots: SnapshotService;
  readonly keys: KeyService;
  readonly copies: CopyService;
  /** Who may be a mover: join tokens, certificates, revocation. */
  readonly enrollment: MoverEnrollment;
  /** The connected data movers: their tasks, and the restores' proxies they are. */
  readonly movers: MoverHub;
  /** Session keys of the `serve` console; they live as long as this engine. */
  readonly sessions: SessionStore;
  /** Decoded backup blocks shared by the Instant Recovery sessions, under one byte bound. */
  readonly blockCache: BlockCache;
  /** The start-up janitor's run: how many leftovers it removed. */
  janitor: Promise<number> = Promise.resolve(0);
  /** Removes what jobs left behind, with the cleaners each feature registers. */
  private readonly leftovers: Janitor;
  /** The job queue this engine shares with the catalog's other engines (serve --shared). */
  private readonly sharedQueue: SharedQueue | null;
  /** The other engines' job events, told here, and this one's told there (serve --shared). */
  private sharedEvents: SharedEvents | null = null;

  private constructor(
    paths: HomePaths,
    claim: HomeClaim,
    catalog: Catalog,
    primary: Repository,
    pool: WorkerPool,
    secrets: FileSecretStore,
    concurrentJobs: number,
    injectFault: FaultInjector | null,
    sessions: SessionStore,
    blockCache: BlockCache,
    enrollment: MoverEnrollment,
    sharedQueue: SharedQueue | null,
  ) {
    this.paths = paths;
    this.sharedQueue = sharedQueue;
    this.enrollment = enrollment;
    const movers = (this.movers = new MoverHub({ enrollment }));
    this.blockCache = blockCache;
    this.sessions = sessions;
    this.claim = claim;
    this.secrets = secrets;
    this.catalog = catalog;
    this.pool = pool;
    const { events } = this;
    this.auth = new AuthService({ accounts: catalog.accounts, audit: (...entry) => catalog.audit(...entry) });
    this.connectionHandlers = connectionHandlers(this.auth);
    // Every manifest read is checked against the hash the catalog recorded for it.
    const checked = primary.withRecordedHashes((pointId) => catalog.manifestSha256(pointId));
    this.keys = new KeyService({ primary: checked, secrets, catalog, copies: () => this.copies.copyRepositories() });
    // Encrypted chains whose keys are remembered read without a password.
    const repository = checked.withKeys(this.keys.storedKey);
    this.repository = repository;
    const lookup = (this.lookup = new VmLookup({ catalog, repository }));
    const checks = (this.checks = new TargetChecks({ home: paths.home, catalog }));
    const hosts = (this.hosts = new HostService({
      catalog,
      secrets,
      repository,
      lookup,
      moverProxies: (host) => movers.proxiesOf(host),
    }));
    const connectHost = (name: string) => hosts.connect(name);
    const azure = (this.azure = new AzureAccounts({ catalog, secrets }));
    const works = new JobWorks({
      pool,
      catalog,
      repository,
      stagingRoot: paths.staging,
      reportsFolder: join(paths.home, 'rehearsals'),
      connectHost,
      proxies: hosts.proxies,
      restoreProxies: hosts.restoreProxies,
      movers,
      connectAzure: (account) => azure.connect(account),
    });
    const rerunIndex = indexRerun(catalog, works);
    // Built from the catalog alone, so any engine of a shared catalog can run them: restores to a
    // local folder (continued from their checkpoints after a stop) and indexing (run again whole).
    // Not an encrypted point's: its password, given to the engine that queued the job, is nowhere
    // another engine could read it (nor on the catalog's record of the job).
    const plainPoint = (vmId: string, pointId: string): boolean =>
      catalog.listPoints(vmId).some((point) => point.id === pointId && point.keyId === null);
    const portablePoint = (job: Job, params: unknown): { vmId: string; pointId: string } | null => {
      if (job.kind !== 'index') return localRestoreOf(job, params);
      const given = params as { vmId?: unknown; pointId?: unknown } | null;
      return typeof given?.vmId === 'string' && typeof given.pointId === 'string' ? { vmId: given.vmId, pointId: given.pointId } : null;
    };
    const sharedJobs: SharedJobs | null = sharedQueue && {
      queue: sharedQueue,
      portable: (job, params) => {
        const point = portablePoint(job, params);
        return point !== null && plainPoint(point.vmId, point.pointId);
      },
      workOf: async (job, resuming) => {
        const index = rerunIndex(job);
        return index ? index(job.id) : this.restores.workFromCatalog(job, resuming);
      },
    };
    const jobs = (this.jobs = new JobQueue(catalog, events, concurrentJobs, injectFault, rerunIndex, sharedJobs));
    const copies = (this.copies = new CopyService({ catalog, jobs, pool, primary: repository, keys: this.keys }));
    // Every kind of leftover a job records has its cleaner, or the engine does not start.
    const leftovers = (this.leftovers = new Janitor(catalog));
    registerFileCleaners(leftovers, catalog);
    registerVsphereCleaners(leftovers, connectHost);
    registerArrayCloneCleaner(leftovers, catalog.arrays);
    leftovers.checkComplete();
    const cleanLeftovers = (jobId: string) => leftovers.run({ jobId, keepResumable: false });
    this.restores = new RestoreService({
      catalog,
      events,
      jobs,
      lookup,
      checks,
      copies,
      azure,
      works,
      connectHost,
      cleanLeftovers,
      restoreProxies: (host) => hosts.restoreProxies.forHost(host),
    });
    this.files = new FilesService({ catalog, jobs, repository, lookup, checks, copies, works, blockCache });
    this.backups = new BackupService({
      catalog,
      jobs,
      repository,
      keys: this.keys,
      works,
      connectHost,
      startIndex: (...index) => this.files.startIndex(...index),
    });
    this.verifies = new VerifyService({ catalog, jobs, repository, keys: this.keys, lookup, works });
    this.rehearsals = new RehearsalService({ catalog, jobs, lookup, checks, works });
    const resolvePoint = (vm: string, point: string) => lookup.resolvePoint(vm, point);
    const checkTarget = checks.checkTarget.bind(checks);
    this.tape = new TapeService({
      folder: join(paths.home, 'tape'),
      secrets,
      // Loaded on first use: a home without a real library never loads the transports (nor sg's addon).
      // A library other engines of a shared catalog also drive: its drives and robot are held across them.
      openLibrary: async (url, options) =>
        (await import('../drivers/scsi/open-library.ts')).openLibraryUrl(url, {
          ...options,
          holds: (key) => catalog.engines.takeSlot(key, 1),
        }),
      stagingRoot: paths.staging,
      catalog,
      events,
      jobs,
      pool,
      resolvePoint,
      restoreWork: works.restore.bind(works),
      restoreSteps: works.restoreSteps.bind(works),
      checkTarget,
    });
    this.tape.useRepository(repository);
    this.instant = new InstantService({
      home: paths.home,
      catalog,
      events,
      jobs,
      repository,
      decode: sharingDecoder(workerDecoder(pool), blockCache),
      connectHost,
      resolvePoint,
      openSource: async (vm, pointId, choice) => (await copies.sourceFor(vm, pointId, choice)).repository,
      migrationWork: works.quickMigration.bind(works),
    });
    this.snapshots = new SnapshotService({
      home: paths.home,
      catalog,
      jobs,
      checkTarget,
      vsphereRestore: works.snapshotVsphereRestore.bind(works),
    });
    const places = new VmPlaces({
      catalog,
      primary: repository,
      openCopy: (site) => copies.open(site),
      loadableTapes: async () => {
        const inventory = await this.tape.inventory().catch(() => null);
        const loaded = inventory?.cartridges.filter((tape) => tape.location.kind === 'slot' || tape.location.kind === 'drive') ?? [];
        return new Set(loaded.map((tape) => tape.barcode));
      },
    });
    this.handlers = HandlerRegistry.for(engineChannels)
      .add(homeHandlers({ home: paths.home, workerThreads: pool.size, catalog, repository, lookup, places }))
      .add(catalogHandlers({ home: paths.home, location: paths.catalog, catalog, shared: sharedQueue !== null }))
      .add(jobsHandlers(catalog, jobs))
      .add(accountHandlers(this.auth, sessions, catalog))
      .add(keyHandlers(this.keys, catalog, () => secrets.kind))
      .add(hostHandlers(hosts, catalog))
      .add(moverHandlers(enrollment, movers))
      .add(azureHandlers(azure, catalog))
      .add(restoreHandlers(this.restores))
      .add(filesHandlers(this.files, lookup, catalog))
      .add(backupHandlers(this.backups))
      .add(verifyHandlers(this.verifies))
      .add(rehearsalHandlers(this.rehearsals, checks))
      .add(tapeHandlers(this.tape, catalog, checks))
      .add(instantHandlers(this.instant, checks))
      .add(snapshotHandlers(this.snapshots, catalog, checks))
      .add(copyHandlers(copies, catalog, lookup, (path, what, repositories) => checks.checkLocalPath(path, what, repositories)))
      .complete();
  }

  /** Opens the engine of a home. It first claims the home (`claimHome`), so a second engine for
   * the same home fails with 'conflict' before it could mistake the first one's jobs for dead
   * ones. rpc/open-served-engine.ts is the way to call it. */
  static async open(options: EngineOptions, claimHome: ClaimHome): Promise<Engine> {
    // A secrets key the operator chose that cannot work stops the start before the home is touched.
    const source = options.secretsKey ?? keySourceFromProcess({}, homedir(), existsSync).source;
    await checkKeySource(source, resolve(options.home));
    const blockCacheBytes = options.blockCacheBytes ?? blockCacheBytesFrom(process.env);
    const prepared = await prepareHome(options.home);
    const claim = await claimHome(prepared);
    // A move of the catalog the console's settings asked for, made before anything opens it.
    await makeAskedCatalogMove(prepared.home, (line) => void process.stderr.write(`lifeboat: ${line}\n`)).catch(async (error: unknown) => {
      await claim.close();
      throw error;
    });
    const paths = homePaths(prepared.home);
    let catalog: Catalog | null = null;
    let pool: WorkerPool | null = null;
    let sharedQueue: SharedQueue | null = null;
    let sharedEvents: SharedEvents | null = null;
    /** The shared queue's timers run once the engine is made: a start that fails after stops them. */
    let sharedJobs: JobQueue | null = null;
    try {
      // The secrets key first: one that does not open this home's store stops the start before
      // the catalog is made.
      const secrets = await FileSecretStore.open(paths.secrets, {
        home: paths.home,
        sealer: options.sealer,
        formerSealer: options.formerSealer,
        source,
      });
      const engineId = randomUUID();
      const warn = (line: string): void => void process.stderr.write(`lifeboat: ${line}\n`);
      catalog = Catalog.open(paths.catalog, paths.auditAnchors, { forEngine: options.shared ? { shared: engineId } : true });
      if (options.shared) {
        catalog.engines.register({ id: engineId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() });
        const engines = catalog.engines;
        sharedQueue = await SharedQueue.open(paths.catalog, (sql, params) => engines.runQueueStatement(sql, params), warn);
      }
      // With other engines running, what they hold is theirs: their prompts are not this start's to
      // expire. Instant Recovery sessions are each served by the home that started them.
      const alone = catalog.engines.othersRunning().length === 0;
      const repository = await Repository.openOrCreate(join(paths.repositories, DEFAULT_REPOSITORY), DEFAULT_REPOSITORY, options.blockSize);
      catalog.ensureRepository({
        id: repository.info.id,
        name: DEFAULT_REPOSITORY,
        path: repository.path,
        blockSize: repository.info.blockSize,
      });
      pool = new WorkerPool(options.workerThreads);
      const engine = new Engine(
        paths,
        claim,
        catalog,
        repository,
        pool,
        secrets,
        options.concurrentJobs ?? 2,
        options.injectFault ?? null,
        new SessionStore({
          records: catalog.consoleSessions,
          ...(options.sessionLimits ? { limits: options.sessionLimits } : {}),
          ...(options.now ? { now: options.now } : {}),
        }),
        // Two decodes per worker: one decoding while the next block is read from its data file.
        new BlockCache({ maxBytes: blockCacheBytes, decoding: 2 * pool.size }),
        await MoverEnrollment.open({ catalog, folder: join(paths.home, 'movers') }),
        sharedQueue,
      );
      if (sharedQueue) sharedJobs = engine.jobs;
      engine.jobs.recoverAfterRestart();
      if (alone) engine.tape.prompts.expireLeftovers();
      engine.instant.recoverAfterRestart({ ownOnly: options.shared === true });
      await reconcileCatalog(catalog, engine.repository);
      // In the background: a host that does not answer must not hold up the engine's start.
      // A shared catalog's unfinished jobs keep what they hold (another engine runs them, or takes
      // them over and continues from what was left), and what other hosts' jobs left is theirs.
      engine.janitor = engine.leftovers.run({ keepResumable: true, ...(options.shared ? { onlyEndedOn: hostname() } : {}) }).catch(() => 0);
      engine.jobs.startQueued();
      if (sharedQueue) {
        const opened = engine.catalog;
        const records = { job: (jobId: string) => opened.getJob(jobId), prompt: (promptId: string) => opened.tapes.prompt(promptId) };
        sharedEvents = await SharedEvents.open(paths.catalog, engineId, engine.events, records, warn);
        engine.sharedEvents = sharedEvents;
        await sharedQueue.work(options.concurrentJobs ?? 2, (jobId) => engine.jobs.runShared(jobId));
      }
      return engine;
    } catch (error) {
      // A start that fails leaves nothing running: no worker threads, no catalog, no socket.
      await sharedEvents?.close();
      await sharedJobs?.close();
      await sharedQueue?.close();
      await pool?.close();
      catalog?.close();
      await claim.close();
      throw error;
    }
  }

  /** Where the secret store's key is, in words (or why its secrets are locked). */
  get secretsKeyDescription(): string {
    return this.secrets.description;
  }

  private closing: Promise<void> | null = null;
  private markStopped: (reason: string) => void = () => undefined;
  /** Resolves once a stop has ended the running jobs (for an in-process follower). */
  readonly stopped: Promise<string> = new Promise((resolve) => {
    this.markStopped = resolve;
  });

  /** Has a stop begun (a signal, or the owner's close)? */
  get stopping(): boolean {
    return this.closing !== null;
  }

  /** Stops the engine: it takes no new work, running jobs end interrupted (a local restore keeps
   * what its resume needs) and their followers hear so before the home's claim (the socket) is
   * released; then the rest shuts down and the catalog closes. Safe to call again (a second
   * signal, then the command's own close). */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.sharedQueue?.stopTaking();
    await this.jobs.close();
    // The jobs it ran went back to the queue (JobQueue.close): the queue hears so before it closes.
    await this.sharedQueue?.close();
    await this.sharedEvents?.close();
    await this.movers.close();
    this.markStopped('the engine stopped');
    await this.claim.close();
    await this.janitor;
    await this.files.close();
    await this.instant.close();
    await this.tape.close();
    await this.pool.close();
    this.catalog.close();
  }
}
