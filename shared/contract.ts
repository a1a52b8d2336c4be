// The one contract between the console and the engine. Every request channel, every event, the
// error codes, the envelopes and frames and the close codes are declared here once; Electron IPC,
// the `serve` WebSocket and the CLI's local socket all serve it. The zod-free names and codes the
// sandboxed preload and the clients need are generated from this file into
// shared/generated/channels.ts (`npm run contract`).
import { z } from 'zod';
import { AccountName, AccountPassword, AccountSummary, DirectoryConfig, NewAccountPassword, Role, SignedIn } from './accounts.ts';
import {
  ConsoleSession,
  CopyStatus,
  EncryptionKey,
  RepositorySite,
  SiteName,
  AzureAccount,
  ArrayView,
  StorageSnapshotPoint,
  InstantSession,
  IpAddress,
  ListenAddress,
  JobSample,
  Barcode,
  Prompt,
  PullListEntry,
  TapeCopySummary,
  TapeInventory,
  TapeLibraryName,
  TapeLibrarySummary,
  AuditEntry,
  FileEntry,
  IndexGap,
  IndexGaps,
  ItemPath,
  SearchHit,
  Settings,
  CatalogInfo,
  HostInventory,
  HostName,
  HostSummary,
  OriginalPreview,
  ProxySummary,
  MoverSummary,
  Id,
  Job,
  JobEvent,
  JobProgress,
  JobQueuePlace,
  LocalTarget,
  RestoreCheck,
  RestorePoint,
  RestoreStep,
  TransportMode,
  VmSummary,
  VsphereTarget,
} from './domain.ts';

const Empty = z.object({}).strict();

const Password = z.string().min(1).max(1024);
/** The text of a recovery key file (the CLI reads the file; the engine may be remote). */
const RecoveryKeyText = z.string().min(1).max(8192);
const KeyId = z.string().uuid();

/** What every restore from a repository may say about its source: the region to read from (a
 * cross-region restore or a drill), and how to unlock an encrypted point. */
const SourceChoice = {
  fromRegion: SiteName.optional(),
  password: Password.optional(),
  recoveryKey: RecoveryKeyText.optional(),
};

/** Why an operator restores: kept in the audit log and the job's first event. */
const RestoreReason = z.string().min(1).max(500).optional();

const NewVmName = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'a VM name uses letters, digits, space, dot, dash and underscore');

/** Where a backup reads a VM: a folder on this machine, or a VM on a vSphere host of the catalog
 * (read through a snapshot; a host not in the catalog is the engine's error, not the contract's). */
const BackupSource = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), path: z.string().min(1).max(4096) }).strict(),
  z
    .object({
      kind: z.literal('vsphere'),
      host: z.string().min(1).max(200),
      vm: z.string().min(1).max(200),
      transport: TransportMode.default('auto'),
      /** Ask VMware Tools to quiesce the guest's file systems for the snapshot. */
      quiesce: z.boolean().default(false),
    })
    .strict(),
]);

export const requestChannels = {
  /** Signs the connection in; the token resumes the sign-in on another connection (a reload, the CLI's next command). */
  'auth.login': {
    request: z.object({ user: AccountName, password: AccountPassword }).strict(),
    response: z.object({ token: z.string(), identity: SignedIn }),
  },
  'auth.resume': { request: z.object({ token: z.string().min(1).max(200) }).strict(), response: SignedIn },
  /** Signs the connection out and ends its session (the token no longer resumes). */
  'auth.logout': { request: Empty, response: z.object({ signedOut: z.boolean() }) },
  'auth.whoami': { request: Empty, response: SignedIn.nullable() },
  'accounts.list': { request: Empty, response: z.array(AccountSummary) },
  'accounts.add': { request: z.object({ name: AccountName, role: Role, password: NewAccountPassword }).strict(), response: AccountSummary },
  'accounts.remove': { request: z.object({ name: AccountName }).strict(), response: z.object({ removed: z.string() }) },
  'accounts.setRole': { request: z.object({ name: AccountName, role: Role }).strict(), response: AccountSummary },
  'accounts.setPassword': { request: z.object({ name: AccountName, password: NewAccountPassword }).strict(), response: AccountSummary },
  'directory.get': { request: Empty, response: DirectoryConfig.nullable() },
  /** null turns directory sign-in off. */
  'directory.set': { request: z.object({ directory: DirectoryConfig.nullable() }).strict(), response: DirectoryConfig.nullable() },
  'engine.info': {
    request: Empty,
    response: z.object({ version: z.string(), home: z.string(), repositoryPath: z.string(), workerThreads: z.number().int() }),
  },
  'vms.list': { request: Empty, response: z.array(VmSummary) },
  'points.list': {
    request: z.object({ vm: z.string().min(1).max(200) }).strict(),
    response: z.array(RestorePoint),
  },
  'jobs.list': { request: Empty, response: z.array(Job) },
  'jobs.get': {
    request: z.object({ jobId: Id }).strict(),
    /** params: what the job was asked to do (its request, secrets removed): the wizard's "Edit and retry". */
    response: z.object({ job: Job, events: z.array(JobEvent), samples: z.array(JobSample), params: z.unknown().nullable() }),
  },
  'jobs.cancel': { request: z.object({ jobId: Id }).strict(), response: z.object({ job: Job }) },
  /** Cancels each job as jobs.cancel does; a job that cannot be cancelled is listed, not thrown. */
  'jobs.cancelMany': {
    request: z.object({ jobIds: z.array(Id).min(1).max(1000) }).strict(),
    response: z.object({ cancelled: z.array(Job), refused: z.array(z.object({ jobId: z.string(), message: z.string() })) }),
  },
  'jobs.resume': { request: z.object({ jobId: Id }).strict(), response: z.object({ job: Job }) },
  'jobs.discard': { request: z.object({ jobId: Id }).strict(), response: z.object({ job: Job }) },
  'jobs.approve': { request: z.object({ jobId: Id }).strict(), response: z.object({ job: Job }) },
  'settings.get': { request: Empty, response: Settings },
  'catalog.get': { request: Empty, response: CatalogInfo },
  /** Moves the home's SQLite catalog to the empty PostgreSQL database at `to` at the engine's next
   * start (checked now: reachable and empty); null withdraws a move asked for. */
  'catalog.move': { request: z.object({ to: z.string().min(1).max(2000).nullable() }).strict(), response: CatalogInfo },
  'settings.set': { request: Settings.partial().strict(), response: Settings },
  'backup.start': {
    request: z
      .object({
        source: BackupSource,
        /** Start the chain encrypted (AES-256-GCM per block) under this password. */
        encrypt: z.boolean().default(false),
        /** The chain's password: to start it encrypted, or to go on with an encrypted chain. */
        password: Password.optional(),
        /** Keep the chain key in the secret store, so restores and indexing need no password. */
        rememberKey: z.boolean().default(false),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'restore.entireVm': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        target: z.discriminatedUnion('kind', [LocalTarget.strict(), VsphereTarget.strict()]),
        newName: NewVmName.optional(),
        reason: RestoreReason,
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'restore.check': {
    request: z
      .object({
        step: RestoreStep,
        vms: z
          .array(z.object({ vm: z.string().min(1).max(200), point: z.string().min(1).max(200), newName: NewVmName.optional() }).strict())
          .min(1)
          .max(50),
        target: z.discriminatedUnion('kind', [LocalTarget.strict(), VsphereTarget.strict()]).optional(),
        reason: RestoreReason,
        ...SourceChoice,
      })
      .strict(),
    response: RestoreCheck,
  },
  'verify.start': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200).optional(),
        password: Password.optional(),
        recoveryKey: RecoveryKeyText.optional(),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'restore.previewOriginal': {
    request: z.object({ vm: z.string().min(1).max(200), point: z.string().min(1).max(200), host: HostName }).strict(),
    response: OriginalPreview,
  },
  /** A folder of a point; inside a volume in name order, from the point's file index where that
   * gives the same listing (`fromPoint`: from the point's disks regardless). */
  'files.list': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        path: z.string().max(4096),
        fromPoint: z.boolean().optional(),
      })
      .strict(),
    response: z.array(FileEntry),
  },
  /** A folder as the point's file index holds it, without opening the point (its disks may be on
   * tape or offline): what the index job found (an index made before catalog migration 27 keeps
   * mtimes to the second and no targets), and what it left out there. */
  'files.listIndexed': {
    request: z.object({ vm: z.string().min(1).max(200), point: z.string().min(1).max(200), path: z.string().max(4096) }).strict(),
    response: z.object({ entries: z.array(FileEntry), gaps: z.array(IndexGap) }),
  },
  'files.restore': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        paths: z.array(ItemPath).min(1).max(1000),
        target: LocalTarget.strict(),
        onClash: z.enum(['overwrite', 'keep-both', 'skip']).default('keep-both'),
        archive: z.enum(['zip', 'tar']).optional(),
        keepSpecialBits: z.boolean().optional(),
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  /** Picked items as one zip or tar streamed to the browser console: the answer is a single-use
   * ticket (GET `url` on the console's origin within 60 s), bound to the console session that
   * asked; nothing is written on the engine's disk. Refused over IPC and the local socket. */
  'files.download': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        paths: z.array(ItemPath).min(1).max(1000),
        format: z.enum(['zip', 'tar']),
        layout: z.enum(['keep', 'flatten']),
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ url: z.string(), expiresAt: z.string(), name: z.string() }),
  },
  'files.preview': {
    request: z.object({ vm: z.string().min(1).max(200), point: z.string().min(1).max(200), path: ItemPath }).strict(),
    response: z.object({
      kind: z.enum(['text', 'image', 'binary']),
      mime: z.string(),
      size: z.number(),
      truncated: z.boolean(),
      base64: z.string(),
    }),
  },
  'files.index': {
    request: z.object({ vm: z.string().min(1).max(200), point: z.string().min(1).max(200) }).strict(),
    response: z.object({ job: Job }),
  },
  'files.search': {
    request: z.object({ pattern: z.string().min(1).max(200), vm: z.string().min(1).max(200).optional() }).strict(),
    response: z.object({ hits: z.array(SearchHit), gaps: z.array(IndexGaps) }),
  },
  'audit.list': { request: Empty, response: z.array(AuditEntry) },
  'audit.verify': {
    request: Empty,
    response: z.object({ entries: z.number().int(), intact: z.boolean(), problem: z.string().nullable() }),
  },
  'hosts.list': { request: Empty, response: z.array(HostSummary) },
  'hosts.add': {
    request: z
      .object({
        kind: z.literal('vsphere'),
        name: HostName.optional(),
        url: z.string().url().max(2000),
        user: z.string().min(1).max(200),
        password: z.string().min(1).max(1000),
        insecure: z.boolean().default(false),
      })
      .strict(),
    response: HostSummary,
  },
  'hosts.remove': { request: z.object({ host: HostName }).strict(), response: z.object({ removed: z.string() }) },
  'hosts.inventory': { request: z.object({ host: HostName }).strict(), response: HostInventory },
  'proxies.list': { request: Empty, response: z.array(ProxySummary) },
  'proxies.add': {
    request: ProxySummary.omit({ id: true, createdAt: true })
      .extend({ maxTasks: ProxySummary.shape.maxTasks.default(2), proxyVm: ProxySummary.shape.proxyVm.default(null) })
      .strict(),
    response: ProxySummary,
  },
  'proxies.remove': { request: z.object({ proxy: HostName }).strict(), response: z.object({ removed: z.string() }) },
  'movers.list': { request: Empty, response: z.array(MoverSummary) },
  'movers.add': {
    request: z.object({ name: HostName, host: HostName, proxyVm: MoverSummary.shape.proxyVm.default(null) }).strict(),
    /** The token is shown once; `command` is the line to run on the proxy host. */
    response: z.object({ mover: MoverSummary, token: z.string(), command: z.string() }),
  },
  'movers.remove': { request: z.object({ mover: HostName }).strict(), response: z.object({ removed: z.string() }) },
  'tape.library.create': {
    request: z
      .object({
        slots: z.number().int().min(1).max(10_000),
        drives: z.number().int().min(1).max(64),
        mailslots: z.number().int().min(0).max(1000),
        tapes: z.number().int().min(0).max(10_000),
        capacityBytes: z.number().int().positive(),
        timeScale: z.number().positive().max(1000).default(1),
        /** Scales the drive's streaming rate (1 = LTO-9's 400 MB/s). */
        rateScale: z.number().positive().max(100).default(1),
        bufferBytes: z.number().int().positive().optional(),
      })
      .strict(),
    response: TapeInventory,
  },
  /** Connects to a real library (iscsi://HOST[:PORT]/IQN or sg:/dev/sgN[,…]), shows what it found
   * and makes it the home's library. */
  'tape.library.add': {
    request: z
      .object({
        url: z
          .string()
          .max(2000)
          .regex(/^(iscsi:\/\/|sg:)/, 'a library is iscsi://HOST[:PORT]/IQN or sg:/dev/sgN[,/dev/sgM…]'),
        name: TapeLibraryName.refine((name) => name !== 'virtual', '"virtual" names the built-in library').optional(),
        /** The changer's LUN, when the target offers more than one. */
        lun: z.number().int().min(0).max(16383).optional(),
        blockSize: z
          .number()
          .int()
          .min(512)
          .max(16 * 1024 * 1024)
          .optional(),
        /** One-way CHAP; the secret goes to the secret store. */
        chap: z
          .object({ user: z.string().min(1).max(255), secret: z.string().min(1).max(255) })
          .strict()
          .optional(),
      })
      .strict(),
    response: z.object({ library: TapeLibrarySummary, inventory: TapeInventory }),
  },
  'tape.library.list': {
    request: Empty,
    /** inUse: the name of the library tape jobs use, 'virtual' for the built-in one. */
    response: z.object({ inUse: z.string(), virtualExists: z.boolean(), libraries: z.array(TapeLibrarySummary) }),
  },
  /** 'virtual' goes back to the built-in library. */
  'tape.library.use': { request: z.object({ name: TapeLibraryName }).strict(), response: TapeInventory },
  'tape.library.remove': { request: z.object({ name: TapeLibraryName }).strict(), response: z.object({ removed: z.string() }) },
  'tape.inventory': { request: Empty, response: TapeInventory },
  'tape.import': {
    request: z.object({ barcode: Barcode, image: z.string().min(1).max(4096).optional() }).strict(),
    response: TapeInventory,
  },
  'tape.eject': { request: z.object({ barcode: Barcode }).strict(), response: TapeInventory },
  'tape.backup': {
    request: z
      .object({
        vms: z.array(z.string().min(1).max(200)).min(1).max(100),
        pool: z.string().min(1).max(80),
        point: z.string().min(1).max(200).default('latest'),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'tape.catalog': { request: z.object({ barcode: Barcode }).strict(), response: z.object({ job: Job }) },
  'tape.copies': { request: Empty, response: z.array(TapeCopySummary) },
  'tape.pullList': {
    request: z
      .object({ vms: z.array(z.string().min(1).max(200)).min(1).max(100), point: z.string().min(1).max(200).default('latest') })
      .strict(),
    response: z.array(PullListEntry),
  },
  'restore.tape': {
    request: z
      .object({
        vms: z.array(z.string().min(1).max(200)).min(1).max(100),
        point: z.string().min(1).max(200).default('latest'),
        target: z.discriminatedUnion('kind', [LocalTarget.strict(), VsphereTarget.strict()]),
        /** Restore through a staging repository in this folder (always the case for vSphere). */
        staging: z.string().min(1).max(4096).optional(),
        reason: RestoreReason,
      })
      .strict(),
    response: z.object({ jobs: z.array(Job), pullList: z.array(PullListEntry) }),
  },
  'rehearsal.start': {
    request: z
      .object({
        vms: z.array(z.string().min(1).max(200)).min(1).max(100),
        point: z.string().min(1).max(200).default('latest'),
        target: z.discriminatedUnion('kind', [
          LocalTarget.strict(),
          VsphereTarget.pick({ kind: true, host: true, datastore: true, network: true }).strict(),
        ]),
        /** Leave the rehearsal VMs in place afterwards (default: remove them). */
        keep: z.boolean().default(false),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'rehearsal.report': { request: z.object({ jobId: Id }).strict(), response: z.object({ html: z.string() }) },
  'prompts.list': { request: z.object({ open: z.boolean().default(true) }).strict(), response: z.array(Prompt) },
  'prompts.answer': { request: z.object({ promptId: Id, barcode: Barcode.optional() }).strict(), response: Prompt },
  'instant.start': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200).default('latest'),
        host: HostName,
        /** The ESXi host to mount on and run the VM (default: the first connected one). */
        hostSystem: z.string().min(1).max(200).optional(),
        /** The name the VM runs under (default: the backed-up VM's). */
        name: z
          .string()
          .min(1)
          .max(80)
          .regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/, 'a VM name uses letters, digits, space, dot, dash and underscore')
          .optional(),
        listen: ListenAddress.optional(),
        /** Client addresses that may use the export (default: the host's addresses). */
        allow: z.array(IpAddress).min(1).max(32).optional(),
        /** A production datastore folder the guest's writes go to instead of the session cache. */
        redirectTo: z.string().min(1).max(4096).optional(),
        /** Run the VM from a clone of this storage snapshot instead of from the backup (point ignored). */
        fromSnapshot: Id.optional(),
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ job: Job, session: InstantSession }),
  },
  'instant.list': { request: Empty, response: z.array(InstantSession) },
  'instant.migrate': {
    request: z
      .object({ sessionId: Id, datastore: z.string().min(1).max(200), transport: z.enum(['auto', 'san', 'hotadd']).default('auto') })
      .strict(),
    response: z.object({ job: Job }),
  },
  'instant.stop': { request: z.object({ sessionId: Id }).strict(), response: z.object({ job: Job }) },
  'arrays.create': {
    request: z
      .object({
        name: HostName,
        /** The array's folder (on XFS with reflink, or btrfs); default <home>/arrays/<name>. */
        path: z.string().min(1).max(4096).optional(),
        protocol: z.enum(['iscsi', 'fc', 'nfs']).optional(),
        address: z.ipv4().optional(),
        cloneQuota: z.number().int().min(1).max(1000).optional(),
        timeScale: z.number().positive().max(1000).optional(),
      })
      .strict(),
    response: z.object({ array: ArrayView, volume: z.object({ name: z.string(), folder: z.string() }) }),
  },
  'arrays.list': { request: Empty, response: z.array(ArrayView) },
  'arrays.show': { request: z.object({ name: HostName }).strict(), response: ArrayView },
  'arrays.snapshot': { request: z.object({ volume: z.string().min(1).max(4096) }).strict(), response: StorageSnapshotPoint },
  'snapshots.list': { request: z.object({ vm: z.string().min(1).max(200).optional() }).strict(), response: z.array(StorageSnapshotPoint) },
  'restore.fromSnapshot': {
    request: z
      .object({
        vms: z.array(z.string().min(1).max(200)).min(1).max(100),
        snapshot: Id,
        target: z.discriminatedUnion('kind', [LocalTarget.strict(), VsphereTarget.strict()]),
        newName: NewVmName.optional(),
        reason: RestoreReason,
        /** The host the clone is presented to (default: this engine's machine, which reads it). */
        host: z.string().min(1).max(200).optional(),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'restore.disks': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        target: LocalTarget.strict(),
        /** ovf: VMDKs + an OVF descriptor (vSphere, any hypervisor); arm: fixed VHDs + an Azure template. */
        template: z.enum(['ovf', 'arm']),
        reason: RestoreReason,
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'azure.add': {
    request: z
      .object({
        name: HostName.optional(),
        /** The account's blob endpoint, such as https://NAME.blob.core.windows.net. */
        blobUrl: z.string().url().max(2000),
        accountName: z
          .string()
          .min(3)
          .max(64)
          .regex(/^[a-z0-9]+$/, 'a storage account name is lowercase letters and digits'),
        key: z.string().min(1).max(200),
      })
      .strict(),
    response: AzureAccount,
  },
  'azure.list': { request: Empty, response: z.array(AzureAccount) },
  'azure.remove': { request: z.object({ name: HostName }).strict(), response: z.object({ removed: z.string() }) },
  'restore.azure': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        point: z.string().min(1).max(200),
        account: HostName,
        container: z
          .string()
          .min(3)
          .max(63)
          .regex(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$/, 'a container name is lowercase letters, digits and single dashes'),
        reason: RestoreReason,
        ...SourceChoice,
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'files.restoreFromSnapshot': {
    request: z
      .object({
        vm: z.string().min(1).max(200),
        snapshot: Id,
        paths: z.array(ItemPath).min(1).max(1000),
        target: LocalTarget.strict(),
        onClash: z.enum(['overwrite', 'keep-both', 'skip']).default('keep-both'),
        archive: z.enum(['zip', 'tar']).optional(),
        keepSpecialBits: z.boolean().optional(),
        host: z.string().min(1).max(200).optional(),
      })
      .strict(),
    response: z.object({ job: Job }),
  },
  'repos.list': { request: Empty, response: z.array(RepositorySite) },
  'repos.add': {
    request: z.object({ name: SiteName, path: z.string().min(1).max(4096), region: SiteName, zone: SiteName }).strict(),
    response: RepositorySite,
  },
  'repos.locate': {
    request: z.object({ name: z.string().min(1).max(80), region: SiteName, zone: SiteName }).strict(),
    response: RepositorySite,
  },
  'repos.remove': { request: z.object({ name: z.string().min(1).max(80) }).strict(), response: z.object({ removed: z.string() }) },
  'copies.run': {
    request: z.object({ vms: z.array(z.string().min(1).max(200)).max(100).optional() }).strict(),
    response: z.object({ job: Job }),
  },
  'copies.status': { request: z.object({ vm: z.string().min(1).max(200).optional() }).strict(), response: CopyStatus },
  'keys.list': { request: Empty, response: z.array(EncryptionKey) },
  /** The recovery key file's text, for the day the password is lost. */
  'keys.recovery': { request: z.object({ keyId: KeyId, password: Password }).strict(), response: z.object({ text: z.string() }) },
  'keys.remember': {
    request: z.object({ keyId: KeyId, password: Password.optional(), recoveryKey: RecoveryKeyText.optional() }).strict(),
    response: EncryptionKey,
  },
  'keys.forget': { request: z.object({ keyId: KeyId }).strict(), response: EncryptionKey },
  /** A new password for a chain key, proven by the old password or the recovery key. */
  'keys.setPassword': {
    request: z
      .object({ keyId: KeyId, password: Password.optional(), recoveryKey: RecoveryKeyText.optional(), newPassword: Password })
      .strict(),
    response: EncryptionKey,
  },
  /** Console session keys (`lifeboat serve`): list them, revoke one by id or all of them. */
  'sessions.list': { request: Empty, response: z.array(ConsoleSession) },
  'sessions.revoke': {
    request: z.union([z.object({ id: z.string().regex(/^[0-9a-f]{12}$/) }).strict(), z.object({ all: z.literal(true) }).strict()]),
    response: z.object({ revoked: z.number().int().nonnegative() }),
  },
} as const satisfies Record<string, { request: z.ZodType; response: z.ZodType }>;

export const eventChannels = {
  'job.updated': Job,
  /** Every queued job's place (Job.queue), sent (at most a few times a second) when places change:
   * one event for the queue, not a job.updated for each job that moved up. */
  'jobs.queued': z.object({ places: z.array(z.object({ jobId: Id, place: JobQueuePlace })) }),
  'job.progress': JobProgress,
  'prompt.updated': Prompt,
  'instant.updated': InstantSession,
} as const satisfies Record<string, z.ZodType>;

export type RequestChannel = keyof typeof requestChannels;
export type EventChannel = keyof typeof eventChannels;
export type RequestOf<C extends RequestChannel> = z.input<(typeof requestChannels)[C]['request']>;
export type ResponseOf<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['response']>;
export type EventOf<E extends EventChannel> = z.infer<(typeof eventChannels)[E]>;

export function isRequestChannel(name: unknown): name is RequestChannel {
  return typeof name === 'string' && Object.hasOwn(requestChannels, name);
}

/** The API a console sees, whatever carries it (Electron preload or the WebSocket client). */
export type LifeboatApi = {
  invoke<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
  on<E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void): () => void;
  /** Resolves with the reason when the engine behind this API is gone (connection dropped, or
   * stopped): a follower of a job must not wait for an end it will never hear. */
  readonly disconnection?: Promise<string>;
};

/** The stable codes of every error the operator may see; programs branch on these, people read
 * the sentence. Anything that escapes the engine without one is a bug, reported as 'internal'. */
export const ErrorCode = z.enum([
  'bad-request',
  'not-found',
  'conflict',
  'invalid-source',
  'corrupt-disk',
  'corrupt-backup',
  'target-not-empty',
  'target-full',
  'cancelled',
  'unavailable',
  'unauthorized',
  /** Known but not allowed: a revoked, unknown or foreign mover certificate, a used or expired join token. */
  'forbidden',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** Errors cross every transport as this shape, so a console shows the engine's own sentence. */
export const WireError = z.object({ code: ErrorCode, message: z.string() });
export type WireError = z.infer<typeof WireError>;

/** WebSocket close codes of `lifeboat serve` that a console understands (4000-4999 are the
 * application's). */
export const CloseCode = { tryAgainLater: 1013, badFrame: 4000, noHello: 4001, unauthorized: 4003, signedOut: 4401 } as const;

/** What crosses Electron IPC for a request: an envelope, so the console gets the engine's error
 * code and sentence instead of Electron's "Error invoking remote method" wrapper. */
export type IpcEnvelope = { ok: true; payload: unknown } | { ok: false; error: WireError };

/** Frames of the WebSocket and local-socket transports. */
export const ClientFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), token: z.string().min(1).max(200) }).strict(),
  z.object({ type: z.literal('request'), id: z.number().int().nonnegative(), channel: z.string().max(100), payload: z.unknown() }).strict(),
]);
export type ClientFrame = z.infer<typeof ClientFrame>;

export type ServerFrame =
  | { type: 'welcome'; session: string }
  | { type: 'response'; id: number; ok: true; payload: unknown }
  | { type: 'response'; id: number; ok: false; error: WireError }
  | { type: 'event'; event: EventChannel; payload: unknown }
  | { type: 'fatal'; error: WireError };
