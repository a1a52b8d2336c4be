// The engine: catalog, repository, workers and the job queue of one home, behind the contract's
// request handlers. Headless by design: nothing here knows about Electron, and it opens no
// socket: whoever opens it claims the home first (rpc/open-served-engine.ts serves it on the
// home's local socket, which is the home's lock and the CLI's way in).
import type { z } from 'zod';
import { requestChannels, type RequestChannel, type ResponseOf } from '../../shared/contract.ts';
import type { AzureAccount, FileEntry, HostInventory, HostSummary, IndexGaps, Job, ProxySummary, RestorePoint, SearchHit } from '../../shared/domain.ts';
import { BackupWork } from '../backup/backup-vm.ts';
import { readSourceVm } from '../backup/source-vm.ts';
import { Catalog } from '../catalog/catalog.ts';
import type { AuditHead } from '../catalog/audit-anchors.ts';
import { LifeboatError } from '../errors.ts';
import { prepareHome, type HomePaths } from '../home.ts';
import { Repository } from '../repository/repository.ts';
import { EntireVmLocalRestore, type RestoreRequest } from '../restore/entire-vm-local.ts';
import { WorkerPool, workerDecoder } from '../workers/pool.ts';
import { EngineEvents } from '../jobs/events.ts';
import { JobQueue, type FaultInjector, type WorkFactory } from '../jobs/job-queue.ts';
import { Janitor } from '../jobs/janitor.ts';
import { registerFileCleaners } from '../jobs/file-cleaners.ts';
import { registerVsphereCleaners } from '../restore/vsphere-cleaners.ts';
import { registerArrayCloneCleaner } from '../snapshots/array-clone-cleaner.ts';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileSecretStore } from '../secrets/secret-store.ts';
import type { Sealer } from '../secrets/sealer.ts';
import { keySourceFromProcess, type KeySource } from '../secrets/key-source.ts';
import { checkKeySource } from '../secrets/store-key.ts';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import { EntireVmVsphereRestore } from '../restore/entire-vm-vsphere.ts';
import type { VsphereRestoreOptions } from '../restore/vsphere-restore-base.ts';
import type { ProxyPool } from '../restore/transport-choice.ts';
import { OriginalVmVsphereRestore, previewOriginal } from '../restore/original-vm-vsphere.ts';
import { resolvePoint } from '../repository/chain.ts';
import { pointHealth } from '../repository/point-health.ts';
import { VerifyWork } from '../verify/verify-chain.ts';
import { PointBrowser } from '../items/point-browser.ts';
import { RestoreItemsWork } from '../items/restore-items.ts';
import { IndexPointWork } from '../items/index-point.ts';
import { TapeService, type RestoreTarget } from '../tape/tape-service.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { RehearsalWork } from '../rehearsal/rehearsal.ts';
import type { RehearsalTarget } from '../rehearsal/rehearsal-types.ts';
import { readFile } from 'node:fs/promises';
import type { StepDefinition } from '../jobs/plan.ts';
import { InstantService } from '../instant/instant-service.ts';
import { SnapshotService } from '../snapshots/snapshot-service.ts';
import { RestoreDisksWork } from '../restore/restore-disks.ts';
import { RestoreAzureWork } from '../restore/restore-azure.ts';
import { BlobStore } from '../drivers/azure/blob-store.ts';
import { QuickMigrationWork } from '../instant/quick-migration.ts';
import { KeyService, withoutSecrets, type KeyCredentials } from '../keys/key-service.ts';
import { CopyService } from '../copies/copy-service.ts';
import { readingFrom, type PickedSource } from '../copies/source-picker.ts';
import { SessionStore, type SessionLimits } from '../auth/session-store.ts';
import type { Caller } from '../../shared/accounts.ts';
import { AuthService } from '../auth/auth-service.ts';
import { connectionHandlers, type ConnectionChannel, type ConnectionHandlers } from '../auth/auth-handlers.ts';
import { holdsRole, identityLabel, personOf } from '../auth/roles.ts';
import { checkOnDisk, checkTargetPath, realTargetPath } from '../fs/target-check.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

export const ENGINE_VERSION = '0.1.0';
const PREVIEW_BYTES = 256 * 1024;

/** Image formats a preview shows, known by their first bytes. */
function imageType(bytes: Buffer): string | null {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.toString('latin1', 0, 6) === 'GIF87a' || bytes.toString('latin1', 0, 6) === 'GIF89a') return 'image/gif';
  return null;
}
const DEFAULT_REPOSITORY = 'default';

/** What holds a home for its engine while it runs (the rpc layer's local socket): released when
 * the engine closes, after its jobs have ended and their followers have heard. */
export type HomeClaim = { close(): Promise<void> };
/** Claims the home before the catalog opens; a home another engine holds fails with 'conflict'. */
export type ClaimHome = (paths: HomePaths) => Promise<HomeClaim>;

/** `sealer` lets the Electron app keep passwords in the OS keyring (safeStorage), `formerSealer`
 * re-seals what an older app sealed with safeStorage's fixed-password backend; `secretsKey`
 * is the headless key source (by default chosen from the environment, key-source.ts).
 * `injectFault` is for the fault-matrix tests: it fails a job right after a chosen step.
 * `sessionLimits` and `now` set how long console session keys live (tests inject a clock). */
export type EngineOptions = { home: string; workerThreads?: number; concurrentJobs?: number; blockSize?: number; sealer?: Sealer; formerSealer?: Sealer; secretsKey?: KeySource; injectFault?: FaultInjector; sessionLimits?: Partial<SessionLimits>; now?: () => number };

type Parsed<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['request']>;
/** Every channel but sign-in's, which acts on the connection (electron/auth/auth-handlers.ts). */
export type EngineChannel = Exclude<RequestChannel, ConnectionChannel>;
/** `caller` is who asks, already checked against the channel's least role (rpc/dispatch.ts). */
export type Handlers = { [C in EngineChannel]: (request: Parsed<C>, caller: Caller) => Promise<ResponseOf<C>> };

export class Engine {
  readonly events = new EngineEvents();
  readonly paths: HomePaths;
  readonly catalog: Catalog;
  readonly repository: Repository;
  readonly jobs: JobQueue;
  private readonly pool: WorkerPool;
  private readonly claim: HomeClaim;
  private readonly secrets: FileSecretStore;
  /** Restore tasks each proxy runs now, by proxy id. */
  private readonly proxyLoad = new Map<string, number>();
  readonly handlers: Handlers;
  readonly auth: AuthService;
  readonly connectionHandlers: ConnectionHandlers;
  readonly tape: TapeService;
  readonly instant: InstantService;
  readonly snapshots: SnapshotService;
  readonly keys: KeyService;
  readonly copies: CopyService;
  /** Session keys of the `serve` console; they live as long as this engine. */
  readonly sessions: SessionStore;
  /** Removes what jobs left behind, with the cleaners each feature registers (see open). */
  private readonly leftovers: Janitor;
  /** The start-up janitor's run: how many leftovers it removed. */
  janitor: Promise<number> = Promise.resolve(0);

  private constructor(paths: HomePaths, claim: HomeClaim, catalog: Catalog, primary: Repository, pool: WorkerPool, secrets: FileSecretStore, concurrentJobs: number, injectFault: FaultInjector | null, sessions: SessionStore, leftovers: Janitor) {
    this.paths = paths;
    this.sessions = sessions;
    this.claim = claim;
    this.leftovers = leftovers;
    this.secrets = secrets;
    this.catalog = catalog;
    this.auth = new AuthService({ accounts: catalog.accounts, audit: (...entry) => catalog.audit(...entry) });
    this.connectionHandlers = connectionHandlers(this.auth);
    // Every manifest read is checked against the hash the catalog recorded for it.
    const checked = primary.withRecordedHashes((pointId) => catalog.manifestSha256(pointId));
    this.keys = new KeyService({ primary: checked, secrets, catalog, copies: () => this.copies.copyRepositories() });
    // Encrypted chains whose keys are remembered read without a password.
    const repository = checked.withKeys(this.keys.storedKey);
    this.repository = repository;
    this.pool = pool;
    this.jobs = new JobQueue(catalog, this.events, concurrentJobs, injectFault, (job) => this.rerunWork(job));
    this.copies = new CopyService({ catalog, jobs: this.jobs, pool, primary: repository, keys: this.keys });
    this.tape = new TapeService({
      folder: join(paths.home, 'tape'),
      stagingRoot: paths.staging,
      catalog,
      events: this.events,
      jobs: this.jobs,
      pool,
      resolvePoint: (vmArgument, point) => {
        const vm = this.resolveVm(vmArgument);
        return { vmId: vm.id, vmName: vm.name, pointId: this.resolvePointId(vm.id, point) };
      },
      restoreWork: (source, jobId, request) => this.restoreWork(source, jobId, request),
      restoreSteps: (target) => this.restoreWorkSteps(target),
      checkTarget: (target, vmName) => this.checkTarget(target, vmName),
    });
    this.tape.useRepository(repository);
    this.instant = new InstantService({
      home: paths.home,
      catalog,
      events: this.events,
      jobs: this.jobs,
      repository,
      decode: workerDecoder(pool),
      connectHost: (name) => this.connectHost(name),
      resolvePoint: (vmArgument, point) => {
        const vm = this.resolveVm(vmArgument);
        return { vmId: vm.id, vmName: vm.name, pointId: this.resolvePointId(vm.id, point) };
      },
      openSource: async (vm, pointId, choice) => (await this.copies.sourceFor(vm, pointId, choice)).repository,
      migrationWork: (sessions, sessionId, jobId, request) =>
        new QuickMigrationWork(sessions, sessionId, request, {
          copyWork: (copy) =>
            this.restoreWork(sessions.sourceOf(sessionId), jobId, {
              vmId: copy.vmId,
              pointId: copy.pointId,
              newName: copy.newName,
              target: { kind: 'vsphere', host: copy.host, datastore: copy.datastore, transport: copy.transport, diskFormat: copy.transport === 'san' ? 'thick' : 'thin', ...(copy.hostSystem ? { hostSystem: copy.hostSystem } : {}) },
            }).work,
          proxyNamed: (name) => this.catalog.listProxies().find((proxy) => proxy.name === name) ?? null,
        }),
    });
    this.snapshots = new SnapshotService({
      home: paths.home,
      catalog,
      jobs: this.jobs,
      checkTarget: (target, vmName) => this.checkTarget(target, vmName),
      vsphereRestore: (jobId, request, openSource) =>
        new EntireVmVsphereRestore({
          ...this.vsphereRestoreOptions(repository, jobId),
          request: { vmId: `snapshot ${request.snapshotId}`, pointId: request.snapshotId, target: request.target, newName: request.newName }, openSource,
        }),
    });
    this.handlers = this.makeHandlers();
  }

  /** Opens the engine of a home. It first claims the home (`claimHome`), so a second engine for
   * the same home fails with 'conflict' before it could mistake the first one's jobs for dead
   * ones. rpc/open-served-engine.ts is the way to call it. */
  static async open(options: EngineOptions, claimHome: ClaimHome): Promise<Engine> {
    // A secrets key the operator chose that cannot work stops the start before the home is touched.
    const source = options.secretsKey ?? keySourceFromProcess({}, homedir(), existsSync).source;
    await checkKeySource(source, resolve(options.home));
    const paths = await prepareHome(options.home);
    const claim = await claimHome(paths);
    let catalog: Catalog | null = null;
    try {
      // The secrets key first: one that does not open this home's store stops the start before
      // the catalog is made.
      const secrets = await FileSecretStore.open(paths.secrets, { home: paths.home, sealer: options.sealer, formerSealer: options.formerSealer, source });
      catalog = Catalog.open(paths.catalog);
      const repository = await Repository.openOrCreate(join(paths.repositories, DEFAULT_REPOSITORY), DEFAULT_REPOSITORY, options.blockSize);
      catalog.ensureRepository({ id: repository.info.id, name: DEFAULT_REPOSITORY, path: repository.path, blockSize: repository.info.blockSize });
      const engine = new Engine(paths, claim, catalog, repository, new WorkerPool(options.workerThreads), secrets, options.concurrentJobs ?? 2, options.injectFault ?? null, new SessionStore({ ...(options.sessionLimits ? { limits: options.sessionLimits } : {}), ...(options.now ? { now: options.now } : {}) }), new Janitor(catalog));
      // Every kind of leftover a job records has its cleaner, or the engine does not start.
      registerFileCleaners(engine.leftovers, catalog);
      registerVsphereCleaners(engine.leftovers, (name) => engine.connectHost(name));
      registerArrayCloneCleaner(engine.leftovers, catalog.arrays);
      engine.leftovers.checkComplete();
      engine.jobs.recoverAfterRestart();
      engine.tape.prompts.expireLeftovers();
      engine.instant.recoverAfterRestart();
      await engine.reconcileCatalog();
      // In the background: a host that does not answer must not hold up the engine's start.
      engine.janitor = engine.leftovers.run({ keepResumable: true }).catch(() => 0);
      engine.jobs.startQueued();
      return engine;
    } catch (error) {
      catalog?.close();
      await claim.close();
      throw error;
    }
  }

  /** Where the secret store's key is, in words (or why its secrets are locked). */
  get secretsKeyDescription(): string {
    return this.secrets.description;
  }

  /** The audit heads the repository's restore points recorded, for `audit verify`. */
  private async pointAuditHeads(): Promise<{ pointId: string; head: AuditHead }[]> {
    const heads: { pointId: string; head: AuditHead }[] = [];
    for (const vmId of await this.repository.listVmIds()) {
      for (const manifest of await this.repository.listPoints(vmId)) if (manifest.auditHead) heads.push({ pointId: manifest.id, head: manifest.auditHead });
    }
    return heads;
  }

  /** The repository is the truth: index any committed point the catalog has not seen, and record
   * the manifest hash of points made before hashes were recorded, as they read now. */
  private async reconcileCatalog(): Promise<void> {
    for (const vmId of await this.repository.listVmIds()) {
      for (const entry of await this.repository.scanPoints(vmId)) {
        if (!entry.manifest || entry.damage !== null || entry.sha256 === null) continue;
        if (this.catalog.hasPoint(entry.id)) {
          this.catalog.adoptManifestSha256(entry.id, entry.sha256);
          continue;
        }
        // A damaged parent is not indexed: the child is, without the link (its chain is in its manifest).
        const parentId = entry.manifest.parentId !== null && this.catalog.hasPoint(entry.manifest.parentId) ? entry.manifest.parentId : null;
        this.catalog.recordPoint({ ...entry.manifest, parentId }, this.repository.info.id, null, null, entry.sha256);
      }
    }
  }

  /** A VM's points as the catalog lists them, each with the health of its metadata as the
   * repository holds it now. */
  async pointsWithHealth(vmId: string): Promise<RestorePoint[]> {
    const entries = await this.repository.scanPoints(vmId);
    return this.catalog.listPoints(vmId).map((point) => ({ ...point, health: pointHealth(entries, point.id) }));
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

  /** A backup of a VM folder; `encrypt` starts an encrypted chain under `password`, which an
   * encrypted chain then needs on every backup (unless its key is remembered). */
  async startBackup(sourcePath: string, actor: string, encryption: { encrypt: boolean; password?: string | undefined; rememberKey?: boolean } = { encrypt: false }): Promise<Job> {
    const source = await readSourceVm(sourcePath); // a bad source fails here, before a job exists
    const chainKey = await this.keys.forBackup(source.vmId, source.vmx.displayName, encryption); // so does a wrong password
    if (chainKey && encryption.rememberKey) await this.keys.remember(chainKey.key);
    const repository = chainKey ? this.repository.withKeys(async (keyId) => (keyId === chainKey.key.keyId ? chainKey.key.dataKey : null)) : this.repository;
    this.catalog.audit(actor, 'backup.start', source.vmId, { source: source.folder, keyId: chainKey?.key.keyId ?? null, newKey: Boolean(chainKey?.newFile) });
    const sealed = chainKey ? ` (encrypted, key ${chainKey.key.keyId})` : '';
    return this.jobs.submit(
      { kind: 'backup', vmId: source.vmId, vmName: source.vmx.displayName, summary: `Back up ${source.vmx.displayName} from ${source.folder}${sealed}`, params: { source: source.folder, keyId: chainKey?.key.keyId ?? null } },
      () =>
        new BackupWork(
          repository,
          this.pool,
          source.folder,
          (manifest, read) => {
            this.catalog.recordPoint(manifest, this.repository.info.id, read.folder, read.vmx.uuid);
            // The new point's files become searchable in a job of their own.
            this.startIndex(manifest.vmId, manifest.vmName, manifest.id, actor, repository);
          },
          chainKey,
          () => this.catalog.auditHead(),
        ),
    );
  }

  async startRestore(unchecked: Parsed<'restore.entireVm'>, actor: string): Promise<Job> {
    const request = await this.checkedLocalTarget(unchecked);
    const vm = this.resolveVm(request.vm);
    const pointId = this.resolvePointId(vm.id, request.point);
    const name = request.newName ?? vm.name;
    const { target } = request;
    if (target.kind === 'vsphere' && target.original && request.newName) throw new LifeboatError('bad-request', 'an original-location restore keeps the VM and its name; drop the new name');
    const held = this.checkTarget(target, vm.name);
    // The copy the restore reads, unlocked when encrypted: a wrong password fails here, before a job exists.
    const source = await this.copies.sourceFor(vm, pointId, request);
    this.catalog.audit(actor, 'restore.entireVm', vm.id, { pointId, target, newName: request.newName ?? null, source: source.site.name });
    const where = target.kind === 'local' ? target.path : `${target.host}${target.datastore ? ` [${target.datastore}]` : ''}`;
    const spec = { kind: 'restore-entire-vm' as const, vmId: vm.id, vmName: vm.name, summary: `Restore ${vm.name} as ${name} to ${where}${fromCopy(source)}`, params: { ...withoutSecrets(request), pointId }, requestedBy: actor };
    if (target.kind === 'local') {
      return this.jobs.submit(spec, (job) => readingFrom(this.localRestoreWork(source.repository, job.id, { vmId: vm.id, pointId, targetPath: target.path, newName: request.newName }, false), source));
    }
    const summary = target.original ? `Roll ${vm.name} back in place on ${target.host}${fromCopy(source)}` : spec.summary;
    return this.jobs.submit({ ...spec, ...held, summary }, (job) => readingFrom(this.restoreWork(source.repository, job.id, { vmId: vm.id, pointId, target, newName: request.newName }).work, source));
  }

  /** An Azure Storage account, added only once its name and key are accepted; the key goes to
   * the secret store. */
  async addAzureAccount(request: Parsed<'azure.add'>, actor: string): Promise<AzureAccount> {
    const name = request.name ?? request.accountName;
    if (this.catalog.azure.find(name)) throw new LifeboatError('conflict', `an Azure account named "${name}" is already in the catalog`);
    await BlobStore.connect({ blobUrl: request.blobUrl, accountName: request.accountName }, request.key);
    const account: AzureAccount = { id: randomUUID(), name, blobUrl: request.blobUrl, accountName: request.accountName, createdAt: new Date().toISOString() };
    await this.secrets.put(account.id, request.key);
    this.catalog.azure.add(account);
    this.catalog.audit(actor, 'azure.add', account.id, { name, blobUrl: account.blobUrl, accountName: account.accountName, secretStore: this.secrets.kind });
    return account;
  }

  /** A point's disks as page blobs in an Azure Storage container, with an ARM template. */
  async startRestoreAzure(request: Parsed<'restore.azure'>, actor: string): Promise<Job> {
    const vm = this.resolveVm(request.vm);
    const pointId = this.resolvePointId(vm.id, request.point);
    const account = this.catalog.azure.find(request.account);
    if (!account) throw new LifeboatError('not-found', `no Azure account "${request.account}"; \`lifeboat azure add …\` adds one`);
    const source = await this.copies.sourceFor(vm, pointId, request);
    this.catalog.audit(actor, 'restore.azure', vm.id, { pointId, account: account.name, container: request.container, source: source.site.name });
    return this.jobs.submit(
      { kind: 'restore-azure', vmId: vm.id, vmName: vm.name, summary: `Restore the disks of ${vm.name} to Azure ${account.name}/${request.container}${fromCopy(source)}`, params: { ...withoutSecrets(request), pointId }, requestedBy: actor },
      (job) =>
        readingFrom(
          new RestoreAzureWork({
            repository: source.repository, pool: this.pool, stagingRoot: this.paths.staging, jobId: job.id, request: { vmId: vm.id, pointId, account: account.name, container: request.container },
            connect: async () => BlobStore.connect(account, await this.secrets.get(account.id)),
          }),
          source,
        ),
    );
  }

  /** A point's disks without a VM, and a template (OVF or ARM) to create one from them. */
  async startRestoreDisks(unchecked: Parsed<'restore.disks'>, actor: string): Promise<Job> {
    const request = await this.checkedLocalTarget(unchecked);
    const vm = this.resolveVm(request.vm);
    const pointId = this.resolvePointId(vm.id, request.point);
    const source = await this.copies.sourceFor(vm, pointId, request);
    this.catalog.audit(actor, 'restore.disks', vm.id, { pointId, target: request.target.path, template: request.template, source: source.site.name });
    return this.jobs.submit(
      { kind: 'restore-disks', vmId: vm.id, vmName: vm.name, summary: `Restore the disks of ${vm.name} with an ${request.template.toUpperCase()} template to ${request.target.path}${fromCopy(source)}`, params: { ...withoutSecrets(request), pointId }, requestedBy: actor },
      (job) => readingFrom(new RestoreDisksWork(source.repository, this.pool, job.id, { vmId: vm.id, pointId, targetPath: request.target.path, template: request.template }), source),
    );
  }

  /** A place on this machine the operator named (a target folder, a staging or cache folder, a
   * repository), checked before any job exists and made absolute: see fs/target-check.ts. */
  async checkLocalPath(path: string, what: string, repositories = this.repositoryPaths()): Promise<string> {
    return checkTargetPath(path, what, { home: this.paths.home, repositories });
  }

  private repositoryPaths(): { name: string; path: string }[] {
    return this.catalog.copies.sites().map((site) => ({ name: site.name, path: site.path }));
  }

  /** What an item restore never writes into, even below its target: the home, every repository. */
  async protectedPaths(): Promise<string[]> {
    return Promise.all([this.paths.home, ...this.repositoryPaths().map((site) => site.path)].map((path) => realTargetPath(resolve(path)).then((found) => found.real)));
  }

  /** The request with its local target checked and made absolute; other targets pass as they are. */
  async checkedLocalTarget<R extends { target: { kind: string } }>(request: R): Promise<R> {
    const { target } = request;
    if (target.kind !== 'local' || !('path' in target) || typeof target.path !== 'string') return request;
    return { ...request, target: { ...target, path: await this.checkLocalPath(target.path, 'the restore target') } };
  }

  /** What every restore to a target must pass, whatever the source: the host is known, an
   * original-location restore is confirmed; under the four-eyes rule the latter is held until a
   * second operator approves it. */
  checkTarget(target: RestoreTarget | RehearsalTarget, vmName: string): { holdFor?: string } {
    if (target.kind !== 'vsphere') return {};
    if (!this.catalog.findHost(target.host)) throw new LifeboatError('not-found', `no host "${target.host}" in the catalog; \`lifeboat hosts add vsphere …\` adds one`);
    if (!('original' in target) || !target.original) return {};
    if (!target.confirmOverwrite) throw new LifeboatError('bad-request', `an original-location restore replaces the disks of ${vmName}: look at what it replaces (preview) and confirm it (--yes)`);
    return this.catalog.settings().fourEyes ? { holdFor: 'approval' } : {};
  }

  private restoreWorkSteps(target: RestoreTarget): readonly StepDefinition[] {
    if (target.kind === 'local') return EntireVmLocalRestore.plan.steps;
    return target.original ? OriginalVmVsphereRestore.plan.steps : EntireVmVsphereRestore.plan.steps;
  }

  /** The restore of a point of `source` (the repository, or a staging one) to a target. */
  private restoreWork(source: Repository, jobId: string, request: { vmId: string; pointId: string; target: RestoreTarget; newName?: string | undefined }): { steps: readonly StepDefinition[]; work: JobWork } {
    const { target } = request;
    const steps = this.restoreWorkSteps(target);
    if (target.kind === 'local') return { steps, work: new EntireVmLocalRestore(source, this.pool, jobId, { vmId: request.vmId, pointId: request.pointId, targetPath: target.path, newName: request.newName }) };
    const common = this.vsphereRestoreOptions(source, jobId);
    if (target.original) return { steps, work: new OriginalVmVsphereRestore({ ...common, request: { vmId: request.vmId, pointId: request.pointId, target } }) };
    return { steps, work: new EntireVmVsphereRestore({ ...common, request: { vmId: request.vmId, pointId: request.pointId, target, newName: request.newName } }) };
  }

  /** What every restore to vSphere is given, whatever it restores from. */
  private vsphereRestoreOptions(source: Repository, jobId: string): Omit<VsphereRestoreOptions, 'request'> {
    return { repository: source, pool: this.pool, connectHost: (hostName: string) => this.connectHost(hostName), proxies: this.proxyPool(), stagingRoot: this.paths.staging, jobId };
  }

  private proxyPool(): ProxyPool {
    return {
      forHost: (host) => this.catalog.listProxies().filter((proxy) => proxy.host === host),
      busy: (proxy) => ((this.proxyLoad.get(proxy.id) ?? 0) >= proxy.maxTasks ? `is busy (${proxy.maxTasks} of ${proxy.maxTasks} tasks running)` : null),
      acquire: (proxy) => {
        this.proxyLoad.set(proxy.id, (this.proxyLoad.get(proxy.id) ?? 0) + 1);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.proxyLoad.set(proxy.id, Math.max(0, (this.proxyLoad.get(proxy.id) ?? 1) - 1));
        };
      },
    };
  }

  addProxy(request: Parsed<'proxies.add'>, actor: string): ProxySummary {
    const host = this.catalog.findHost(request.host);
    if (!host) throw new LifeboatError('not-found', `no host "${request.host}" in the catalog`);
    if (this.catalog.listProxies().some((proxy) => proxy.name === request.name)) throw new LifeboatError('conflict', `a proxy named "${request.name}" already exists`);
    if (request.transports.includes('hotadd') && !request.proxyVm) throw new LifeboatError('bad-request', 'a HotAdd proxy needs its proxy VM (--vm)');
    if ((request.transports.includes('san') || request.transports.includes('hotadd')) && Object.keys(request.datastorePaths).length === 0) {
      throw new LifeboatError('bad-request', 'a SAN or HotAdd proxy needs at least one datastore path (--datastore-path NAME=PATH)');
    }
    const proxy: ProxySummary = { ...request, id: randomUUID(), createdAt: new Date().toISOString() };
    this.catalog.addProxy(proxy, host.id);
    this.catalog.audit(actor, 'proxies.add', proxy.id, proxy);
    return proxy;
  }

  private localRestoreWork(source: Repository, jobId: string, request: RestoreRequest, resume: boolean): EntireVmLocalRestore {
    const published = (): string[] => this.catalog.openResources(jobId).flatMap((resource) => (resource.kind === 'published-file' && typeof resource.ref.path === 'string' ? [resource.ref.path] : []));
    return new EntireVmLocalRestore(source, this.pool, jobId, request, {
      resuming: resume ? { published: published() } : null,
      load: (diskKey) => this.catalog.loadCheckpoint(jobId, diskKey),
      save: (diskKey, checkpoint) => this.catalog.saveCheckpoint(jobId, diskKey, checkpoint),
    });
  }

  /** A restore rehearsal: the VMs restored in parallel to an isolated target, checked, timed. */
  startRehearsal(request: Parsed<'rehearsal.start'>, actor: string): Job {
    const { target } = request;
    this.checkTarget(target, 'the rehearsal VMs');
    const vms = request.vms.map((argument) => {
      const vm = this.resolveVm(argument);
      const pointId = this.resolvePointId(vm.id, request.point);
      const pointSequence = this.catalog.listPoints(vm.id).find((point) => point.id === pointId)?.sequence ?? 0;
      return { vmId: vm.id, vmName: vm.name, pointId, pointSequence };
    });
    if (new Set(vms.map((vm) => vm.vmId)).size !== vms.length) throw new LifeboatError('bad-request', 'the same VM is named twice');
    this.catalog.audit(actor, 'rehearsal.start', null, { vms: vms.map((vm) => vm.vmName), point: request.point, target, keep: request.keep });
    const where = target.kind === 'local' ? target.path : target.host;
    return this.jobs.submit(
      { kind: 'rehearsal', vmId: null, vmName: vms.map((vm) => vm.vmName).join(', '), summary: `Rehearse the restore of ${vms.length} VM(s) to ${where}`, params: { ...request, vms }, requestedBy: actor },
      (job) =>
        new RehearsalWork({
          jobId: job.id,
          vms,
          target,
          keep: request.keep,
          reportsFolder: join(this.paths.home, 'rehearsals'),
          repository: this.repository,
          pool: this.pool,
          connectHost: (name) => this.connectHost(name),
          restoreWork: (vm, restoredAs, rehearsalTarget: RehearsalTarget) =>
            // Its own id per VM: restores running side by side must not share staging folders.
            this.restoreWork(this.repository, `${job.id}-${vm.vmId}`, {
              vmId: vm.vmId,
              pointId: vm.pointId,
              target: rehearsalTarget.kind === 'local' ? { kind: 'local', path: join(rehearsalTarget.path, escapeGuestName(restoredAs).name) } : rehearsalTarget,
              newName: restoredAs,
            }).work,
        }),
    );
  }

  async rehearsalReport(jobId: string): Promise<string> {
    const job = this.catalog.getJob(jobId);
    if (!job || job.kind !== 'rehearsal') throw new LifeboatError('not-found', `no rehearsal ${jobId}`);
    const path = job.result?.report;
    if (typeof path !== 'string') throw new LifeboatError('not-found', `rehearsal ${jobId} has no report (it did not get that far)`);
    return readFile(path, 'utf8');
  }

  /** Four-eyes: a second person lets a held job run. The approver must have signed in (the
   * engine's OS user is whoever runs it, maybe the requester), hold the approver role, and not be
   * the account that asked for the job, whichever way either of them signed in. */
  approveJob(jobId: string, caller: Caller): Job {
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    const approver = identityLabel(caller);
    if (caller.via === 'os') throw new LifeboatError('unauthorized', `an approval needs a signed-in account, not the engine's OS user (${approver}); \`lifeboat login\` first`);
    if (!holdsRole(caller, 'approver')) throw new LifeboatError('unauthorized', `${approver} has the ${caller.role} role; approving needs the approver role`);
    if (job.requestedBy !== null && personOf(job.requestedBy) === personOf(approver)) {
      throw new LifeboatError('conflict', `${approver} asked for this restore; a second person must approve it`);
    }
    const released = this.jobs.release(jobId, 'approval');
    this.catalog.audit(approver, 'jobs.approve', jobId, { requestedBy: job.requestedBy, approverRole: caller.role });
    this.catalog.addJobEvent(jobId, { at: new Date().toISOString(), level: 'info', step: null, message: `approved by ${approver} (asked for by ${job.requestedBy ?? 'unknown'})` });
    return released;
  }

  /** Gives up on an interrupted job: what it left behind is removed now. */
  async discardJob(jobId: string, actor: string): Promise<Job> {
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    if (job.state !== 'interrupted') throw new LifeboatError('conflict', `job ${jobId} is ${job.state}; only an interrupted job can be discarded`);
    // Ended first: should this engine die mid-way, the next start's janitor removes the rest, and
    // no resume can start from a half-removed staging folder.
    const discarded = this.catalog.updateJob(jobId, { state: 'cancelled', error: 'interrupted, then discarded by the operator' });
    this.catalog.audit(actor, 'jobs.discard', jobId, {});
    this.events.emit('job.updated', discarded);
    const removed = await this.leftovers.run({ jobId, keepResumable: false });
    this.catalog.addJobEvent(jobId, { at: new Date().toISOString(), level: 'info', step: null, message: `discarded by the operator; ${removed} leftover(s) removed` });
    return discarded;
  }

  /** Resumes an interrupted restore to a local folder from its checkpoints. */
  async resumeJob(jobId: string, actor: string): Promise<Job> {
    const job = this.catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    const params = this.catalog.jobParams(jobId) as { vm?: unknown; pointId?: unknown; target?: { kind?: unknown; path?: unknown }; newName?: unknown; fromRegion?: unknown } | null;
    if (job.kind !== 'restore-entire-vm' || params?.target?.kind !== 'local' || typeof params.target.path !== 'string' || typeof params.pointId !== 'string' || job.vmId === null) {
      throw new LifeboatError('bad-request', `job ${jobId} cannot be resumed: resume covers restores to a local folder; start this one again`);
    }
    const request: RestoreRequest = { vmId: job.vmId, pointId: params.pointId, targetPath: params.target.path, newName: typeof params.newName === 'string' ? params.newName : undefined };
    // The copy is picked again: the one read before may be gone. Encrypted points resume with a remembered key.
    const source = await this.copies.sourceFor({ id: job.vmId, name: job.vmName }, params.pointId, { fromRegion: typeof params.fromRegion === 'string' ? params.fromRegion : undefined });
    this.catalog.audit(actor, 'jobs.resume', jobId, { source: source.site.name });
    return this.jobs.requeue(jobId, () => readingFrom(this.localRestoreWork(source.repository, jobId, request, true), source));
  }

  /** Browsers stay open for a while: expanding a folder should not reopen the point. */
  private readonly browsers = new Map<string, Promise<PointBrowser>>();

  private browser(vmId: string, pointId: string): Promise<PointBrowser> {
    const key = `${vmId}/${pointId}`;
    let browser = this.browsers.get(key);
    if (!browser) {
      browser = PointBrowser.open(this.repository, vmId, pointId);
      browser.catch(() => this.browsers.delete(key));
      this.browsers.set(key, browser);
      while (this.browsers.size > 4) {
        const [oldest, opened] = this.browsers.entries().next().value as [string, Promise<PointBrowser>];
        this.browsers.delete(oldest);
        void opened.then((old) => old.close()).catch(() => undefined);
      }
    }
    return browser;
  }

  async listFiles(vmArgument: string, point: string, path: string): Promise<FileEntry[]> {
    const vm = this.resolveVm(vmArgument);
    const browser = await this.browser(vm.id, this.resolvePointId(vm.id, point));
    return (await browser.list(path)).map((entry) => ({ ...entry, mtime: entry.mtime ? entry.mtime.toISOString() : null }));
  }

  /** The first bytes of a file, for the console's preview: text, an image, or just binary. */
  async previewFile(vmArgument: string, point: string, path: string): Promise<ResponseOf<'files.preview'>> {
    const vm = this.resolveVm(vmArgument);
    const browser = await this.browser(vm.id, this.resolvePointId(vm.id, point));
    const entry = await browser.stat(path);
    if (entry.type !== 'file') throw new LifeboatError('bad-request', `${path} is not a file`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of browser.read(path)) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= PREVIEW_BYTES) break;
    }
    const bytes = Buffer.concat(chunks).subarray(0, PREVIEW_BYTES);
    const image = imageType(bytes);
    const text = !image && !bytes.subarray(0, 8192).includes(0);
    return {
      kind: image ? 'image' : text ? 'text' : 'binary',
      mime: image ?? (text ? 'text/plain' : 'application/octet-stream'),
      size: entry.size,
      truncated: entry.size > bytes.length,
      base64: image && entry.size > bytes.length ? '' : bytes.toString('base64'),
    };
  }

  async startItemRestore(unchecked: Parsed<'files.restore'>, actor: string): Promise<Job> {
    const request = await this.checkedLocalTarget(unchecked);
    const vm = this.resolveVm(request.vm);
    const pointId = this.resolvePointId(vm.id, request.point);
    const source = await this.copies.sourceFor(vm, pointId, request);
    const protectedPaths = await this.protectedPaths();
    this.catalog.audit(actor, 'files.restore', vm.id, { pointId, paths: request.paths, target: request.target.path, onClash: request.onClash, keepSpecialBits: request.keepSpecialBits ?? false, source: source.site.name });
    return this.jobs.submit(
      { kind: 'restore-items', vmId: null, vmName: vm.name, summary: `Restore ${request.paths.length} item(s) of ${vm.name} to ${request.target.path}${fromCopy(source)}`, params: { ...withoutSecrets(request), pointId }, requestedBy: actor },
      () =>
        readingFrom(
          new RestoreItemsWork(() => PointBrowser.open(source.repository, vm.id, pointId), {
            paths: request.paths,
            targetPath: request.target.path,
            onClash: request.onClash,
            archive: request.archive,
            keepSpecialBits: request.keepSpecialBits,
            protectedPaths,
            archiveName: `${vm.name}-point-${this.catalog.listPoints(vm.id).find((point) => point.id === pointId)?.sequence ?? 'x'}-items`,
          }),
          source,
        ),
    );
  }

  /** An index job the engine stopped runs again at the next start: indexing a point replaces
   * its rows, so a second run is safe. (An encrypted point's key must then be remembered.) */
  private rerunWork(job: Job): WorkFactory | null {
    const params = job.kind === 'index' ? (this.catalog.jobParams(job.id) as { vmId?: unknown; pointId?: unknown } | null) : null;
    if (typeof params?.vmId !== 'string' || typeof params.pointId !== 'string') return null;
    const { vmId, pointId } = params;
    return () => new IndexPointWork(this.repository, this.catalog, vmId, pointId);
  }

  /** Indexes a point's files; `repository` holds the key when the backup just sealed the point. */
  startIndex(vmId: string, vmName: string, pointId: string, actor: string, repository = this.repository): Job {
    this.catalog.audit(actor, 'files.index', vmId, { pointId });
    return this.jobs.submit(
      { kind: 'index', vmId, vmName, summary: `Index the files of ${vmName}`, params: { vmId, pointId } },
      () => new IndexPointWork(repository, this.catalog, vmId, pointId),
    );
  }

  /** The hits, and the indexed points whose index has gaps: a file in one of them may be missing. */
  searchFiles(pattern: string, vmArgument: string | undefined): { hits: SearchHit[]; gaps: IndexGaps[] } {
    const vmId = vmArgument === undefined ? null : this.resolveVm(vmArgument).id;
    const names = new Map(this.catalog.listVms().map((vm) => [vm.id, vm.name]));
    return {
      hits: this.catalog.files.search(pattern, vmId).map((hit) => ({ ...hit, vmName: names.get(hit.vmId) ?? hit.vmId })),
      gaps: this.catalog.files.gaps(vmId).map((point) => ({ ...point, vmName: names.get(point.vmId) ?? point.vmId })),
    };
  }

  /** Verifies a chain (or one point); an encrypted chain is unlocked first, as for a restore. */
  async startVerify(vmArgument: string, point: string | undefined, actor: string, credentials: KeyCredentials = {}): Promise<Job> {
    const vm = this.resolveVm(vmArgument);
    const pointIds = point === undefined ? null : [this.resolvePointId(vm.id, point)];
    const listed = this.catalog.listPoints(vm.id);
    const points = listed.filter((candidate) => pointIds === null || pointIds.includes(candidate.id)).map(({ id, sequence }) => ({ id, sequence }));
    const keyId = listed.find((candidate) => candidate.keyId !== null)?.keyId ?? null;
    const repository = this.repository.withKeys(await this.keys.unlocker(keyId, credentials, `the chain of ${vm.name}`)(this.repository));
    this.catalog.audit(actor, 'verify.start', vm.id, { point: point ?? 'all' });
    return this.jobs.submit(
      { kind: 'verify', vmId: vm.id, vmName: vm.name, summary: `Verify ${point === undefined ? 'every point' : `point ${point}`} of ${vm.name}`, params: { vm: vm.id, pointIds } },
      () => new VerifyWork(repository, this.pool, vm.id, points),
    );
  }

  async connectHost(name: string): Promise<VsphereClient> {
    const host = this.catalog.findHost(name);
    if (!host) throw new LifeboatError('not-found', `no host "${name}" in the catalog`);
    return VsphereClient.connect({ url: new URL(host.url), insecure: host.insecure }, host.user, await this.secrets.get(host.id));
  }

  async addHost(request: Parsed<'hosts.add'>, actor: string): Promise<HostSummary> {
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new LifeboatError('bad-request', `host URL must be https://…/sdk, not ${url.protocol}`);
    if (url.username || url.password) throw new LifeboatError('bad-request', 'put the user in --user and the password in the environment, not in the URL');
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/sdk';
    const name = request.name ?? url.hostname;
    if (this.catalog.findHost(name)) throw new LifeboatError('conflict', `a host named "${name}" is already in the catalog`);
    // Prove the address and the credentials before anything is stored.
    const client = await VsphereClient.connect({ url, insecure: request.insecure }, request.user, request.password);
    await client.logout();
    const host: HostSummary = { id: randomUUID(), name, kind: 'vsphere', url: url.href, user: request.user, insecure: request.insecure, createdAt: new Date().toISOString() };
    await this.secrets.put(host.id, request.password);
    this.catalog.addHost(host);
    this.catalog.audit(actor, 'hosts.add', host.id, { name, url: host.url, user: host.user, insecure: host.insecure, secretStore: this.secrets.kind });
    return host;
  }

  async hostInventory(name: string): Promise<HostInventory> {
    const client = await this.connectHost(name);
    try {
      const inventory = await client.inventory();
      const nameOf = (refs: MoRef[], list: { ref: MoRef; name: string }[]): string[] => refs.flatMap((ref) => list.filter((item) => item.ref.value === ref.value).map((item) => item.name));
      return {
        hostSystems: inventory.hosts.map((host) => ({ name: host.name, connected: host.connected, datastores: nameOf(host.datastores, inventory.datastores), networks: nameOf(host.networks, inventory.networks) })),
        datastores: inventory.datastores.map((ds) => ({ name: ds.name, type: ds.type, capacity: ds.capacity, freeSpace: ds.freeSpace })),
        vms: inventory.vms.map((vm) => vm.name),
      };
    } finally {
      await client.logout();
    }
  }

  private makeHandlers(): Handlers {
    return {
      'engine.info': async () => ({ version: ENGINE_VERSION, home: this.paths.home, repositoryPath: this.repository.path, workerThreads: this.pool.size }),
      'vms.list': async () => this.catalog.listVms(),
      'points.list': async ({ vm }) => this.pointsWithHealth(this.resolveVm(vm).id),
      'jobs.list': async () => this.catalog.listJobs(),
      'jobs.get': async ({ jobId }) => {
        const job = this.catalog.getJob(jobId);
        if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
        return { job, events: this.catalog.jobEvents(jobId), samples: this.catalog.jobSamples(jobId) };
      },
      'jobs.cancel': async ({ jobId }) => ({ job: this.jobs.cancel(jobId) }),
      'jobs.resume': async ({ jobId }, caller) => ({ job: await this.resumeJob(jobId, identityLabel(caller)) }),
      'jobs.discard': async ({ jobId }, caller) => ({ job: await this.discardJob(jobId, identityLabel(caller)) }),
      'jobs.approve': async ({ jobId }, caller) => ({ job: this.approveJob(jobId, caller) }),
      'settings.get': async () => this.catalog.settings(),
      'settings.set': async (patch, caller) => {
        const before = this.catalog.settings();
        const after = this.catalog.updateSettings(patch);
        this.catalog.audit(identityLabel(caller), 'settings.set', null, { before, after });
        return after;
      },
      'backup.start': async ({ source, ...encryption }, caller) => ({ job: await this.startBackup(source.path, identityLabel(caller), encryption) }),
      'restore.entireVm': async (request, caller) => ({ job: await this.startRestore(request, identityLabel(caller)) }),
      'audit.list': async () => this.catalog.auditEntries(),
      'audit.verify': async () => this.catalog.verifyAudit(await this.pointAuditHeads()),
      'files.list': async ({ vm, point, path }) => this.listFiles(vm, point, path),
      'files.restore': async (request, caller) => ({ job: await this.startItemRestore(request, identityLabel(caller)) }),
      'files.preview': async ({ vm, point, path }) => this.previewFile(vm, point, path),
      'files.index': async ({ vm, point }, caller) => {
        const found = this.resolveVm(vm);
        return { job: this.startIndex(found.id, found.name, this.resolvePointId(found.id, point), identityLabel(caller)) };
      },
      'files.search': async ({ pattern, vm }) => this.searchFiles(pattern, vm),
      'verify.start': async ({ vm, point, ...credentials }, caller) => ({ job: await this.startVerify(vm, point, identityLabel(caller), credentials) }),
      'restore.previewOriginal': async ({ vm, point, host }) => {
        const found = this.resolveVm(vm);
        const resolved = await resolvePoint(this.repository, found.id, this.resolvePointId(found.id, point));
        const client = await this.connectHost(host);
        try {
          return (await previewOriginal(client, await client.inventory(), resolved)).preview;
        } finally {
          await client.logout();
        }
      },
      'hosts.list': async () => this.catalog.listHosts(),
      'hosts.add': async (request, caller) => this.addHost(request, identityLabel(caller)),
      'hosts.remove': async ({ host }, caller) => {
        const found = this.catalog.findHost(host);
        if (!found) throw new LifeboatError('not-found', `no host "${host}" in the catalog`);
        this.catalog.removeHost(found.id);
        await this.secrets.remove(found.id);
        this.catalog.audit(identityLabel(caller), 'hosts.remove', found.id, { name: host });
        return { removed: host };
      },
      'hosts.inventory': async ({ host }) => this.hostInventory(host),
      'proxies.list': async () => this.catalog.listProxies(),
      'proxies.add': async (request, caller) => this.addProxy(request, identityLabel(caller)),
      'tape.library.create': async (request, caller) => {
        const inventory = await this.tape.createLibrary(request);
        this.catalog.audit(identityLabel(caller), 'tape.library.create', null, request);
        return inventory;
      },
      'tape.inventory': async () => this.tape.inventory(),
      'tape.import': async ({ barcode, image }, caller) => this.tape.importTape(barcode, image, identityLabel(caller)),
      'tape.eject': async ({ barcode }, caller) => this.tape.ejectTape(barcode, identityLabel(caller)),
      'tape.backup': async ({ vms, pool, point }, caller) => ({ job: await this.tape.startBackup(vms, pool, point, identityLabel(caller)) }),
      'tape.catalog': async ({ barcode }, caller) => ({ job: await this.tape.startCatalog(barcode, identityLabel(caller)) }),
      'tape.copies': async () => this.catalog.tapes.summaries(),
      'tape.pullList': async ({ vms, point }) => this.tape.pullList(vms.map((vm) => this.tape.copyFor(vm, point))),
      'restore.tape': async (request, caller) => {
        const checked = await this.checkedLocalTarget(request);
        return this.tape.startRestore(checked.staging === undefined ? checked : { ...checked, staging: await this.checkLocalPath(checked.staging, 'the staging folder') }, identityLabel(caller));
      },
      'rehearsal.start': async (request, caller) => ({ job: this.startRehearsal(await this.checkedLocalTarget(request), identityLabel(caller)) }),
      'rehearsal.report': async ({ jobId }) => ({ html: await this.rehearsalReport(jobId) }),
      'prompts.list': async ({ open }) => this.tape.prompts.list(open),
      'prompts.answer': async ({ promptId, barcode }, caller) => {
        const prompt = await this.tape.prompts.answer(promptId, identityLabel(caller), barcode);
        this.catalog.audit(identityLabel(caller), 'prompts.answer', promptId, { barcode: prompt.barcode });
        return prompt;
      },
      'instant.start': async ({ fromSnapshot, ...unchecked }, caller) => {
        const request = unchecked.redirectTo === undefined ? unchecked : { ...unchecked, redirectTo: await this.checkLocalPath(unchecked.redirectTo, 'the redirect folder') };
        return fromSnapshot ? this.instant.startFromSnapshot({ ...request, fromSnapshot }, identityLabel(caller)) : this.instant.start(request, identityLabel(caller));
      },
      'instant.list': async () => this.instant.list(),
      'instant.migrate': async (request, caller) => ({ job: this.instant.migrate(request, identityLabel(caller)) }),
      'instant.stop': async ({ sessionId }, caller) => ({ job: this.instant.stop(sessionId, identityLabel(caller)) }),
      // An array's folder may be in the home (its default is); it must be on a disk all the same.
      'arrays.create': async (request, caller) => this.snapshots.create(request.path === undefined ? request : { ...request, path: (await checkOnDisk(request.path, 'the array folder')).absolute }, identityLabel(caller)),
      'arrays.list': async () => this.snapshots.list(),
      'arrays.show': async ({ name }) => this.snapshots.view(this.snapshots.array(name)),
      'arrays.snapshot': async ({ volume }, caller) => this.snapshots.snapshot(volume, identityLabel(caller)),
      'snapshots.list': async ({ vm }) => this.catalog.arrays.snapshots(vm),
      'restore.fromSnapshot': async (request, caller) => ({ job: this.snapshots.startRestore(await this.checkedLocalTarget(request), identityLabel(caller)) }),
      'restore.disks': async (request, caller) => ({ job: await this.startRestoreDisks(request, identityLabel(caller)) }),
      'azure.add': async (request, caller) => this.addAzureAccount(request, identityLabel(caller)),
      'azure.list': async () => this.catalog.azure.list(),
      'azure.remove': async ({ name }, caller) => {
        const found = this.catalog.azure.find(name);
        if (!found) throw new LifeboatError('not-found', `no Azure account "${name}"`);
        this.catalog.azure.remove(found.id);
        await this.secrets.remove(found.id);
        this.catalog.audit(identityLabel(caller), 'azure.remove', found.id, { name });
        return { removed: name };
      },
      'restore.azure': async (request, caller) => ({ job: await this.startRestoreAzure(request, identityLabel(caller)) }),
      'repos.list': async () => this.catalog.copies.sites(),
      // Overlap with another repository is the copy service's to judge (a conflict, either way round).
      'repos.add': async (request, caller) => this.copies.add({ ...request, path: await this.checkLocalPath(request.path, 'the repository folder', []) }, identityLabel(caller)),
      'repos.locate': async ({ name, region, zone }, caller) => this.copies.locate(name, region, zone, identityLabel(caller)),
      'repos.remove': async ({ name }, caller) => {
        this.copies.remove(name, identityLabel(caller));
        return { removed: name };
      },
      'copies.run': async ({ vms }, caller) => {
        const found = vms?.map((vm) => this.resolveVm(vm)) ?? null;
        return { job: this.copies.startCopies(found?.map((vm) => vm.id) ?? null, found?.map((vm) => vm.name).join(', ') ?? 'every VM', identityLabel(caller)) };
      },
      'copies.status': async ({ vm }) => this.copies.status(vm === undefined ? null : [this.resolveVm(vm).id]),
      'keys.list': async () => this.keys.list(),
      'keys.recovery': async ({ keyId, password }, caller) => {
        const text = await this.keys.recoveryText(keyId, password);
        this.catalog.audit(identityLabel(caller), 'keys.recovery', keyId, {});
        return { text };
      },
      'keys.remember': async ({ keyId, ...credentials }, caller) => {
        const key = await this.keys.rememberKey(keyId, credentials);
        this.catalog.audit(identityLabel(caller), 'keys.remember', keyId, { secretStore: this.secrets.kind });
        return key;
      },
      'keys.forget': async ({ keyId }, caller) => {
        const key = await this.keys.forget(keyId);
        this.catalog.audit(identityLabel(caller), 'keys.forget', keyId, {});
        return key;
      },
      'keys.setPassword': async ({ keyId, newPassword, ...credentials }, caller) => {
        const key = await this.keys.setPassword(keyId, credentials, newPassword);
        this.catalog.audit(identityLabel(caller), 'keys.setPassword', keyId, { provedBy: credentials.recoveryKey !== undefined ? 'recovery key' : 'password' });
        return key;
      },
      'files.restoreFromSnapshot': async ({ target, ...request }, caller) => ({
        job: this.snapshots.startItemRestore({ ...request, targetPath: await this.checkLocalPath(target.path, 'the restore target'), protectedPaths: await this.protectedPaths() }, identityLabel(caller)),
      }),
      'sessions.list': async () => this.sessions.list(),
      'sessions.revoke': async (request, caller) => {
        const revoked = 'all' in request ? this.sessions.revokeAll() : Number(this.sessions.revoke(request.id));
        if ('id' in request && revoked === 0) throw new LifeboatError('not-found', `no live console session ${request.id}; \`lifeboat sessions\` lists them`);
        this.catalog.audit(identityLabel(caller), 'sessions.revoke', 'id' in request ? request.id : null, { revoked });
        return { revoked };
      },
      'accounts.list': async () => this.auth.listAccounts(),
      'accounts.add': async ({ name, role, password }, caller) => this.auth.addAccount(name, role, password, caller),
      'accounts.remove': async ({ name }, caller) => {
        this.auth.removeAccount(name, caller);
        return { removed: name };
      },
      'accounts.setRole': async ({ name, role }, caller) => this.auth.setRole(name, role, caller),
      'accounts.setPassword': async ({ name, password }, caller) => this.auth.setPassword(name, password, caller),
      'directory.get': async () => this.auth.directory(),
      'directory.set': async ({ directory }, caller) => this.auth.setDirectory(directory, caller),
      'proxies.remove': async ({ proxy }, caller) => {
        const found = this.catalog.listProxies().find((candidate) => candidate.name === proxy);
        if (!found) throw new LifeboatError('not-found', `no proxy "${proxy}"`);
        this.catalog.removeProxy(found.id);
        this.catalog.audit(identityLabel(caller), 'proxies.remove', found.id, { name: proxy });
        return { removed: proxy };
      },
    };
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
    await this.jobs.close();
    this.markStopped('the engine stopped');
    await this.claim.close();
    await this.janitor;
    for (const browser of this.browsers.values()) await browser.then((opened) => opened.close()).catch(() => undefined);
    await this.instant.close();
    await this.pool.close();
    this.catalog.close();
  }
}

/** The summary's note when a restore reads a copy rather than the primary. */
function fromCopy(source: PickedSource): string {
  return source.site.role === 'primary' ? '' : ` from copy ${source.site.name} (region ${source.site.region})`;
}
