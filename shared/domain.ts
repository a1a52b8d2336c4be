// Domain types shared by the engine and the console. Every type is inferred from a zod schema so
// the same definition validates data crossing a process boundary.
import { z } from 'zod';

export const jobStates = ['queued', 'running', 'waiting-for-operator', 'succeeded', 'failed', 'cancelled', 'interrupted'] as const;
export const JobState = z.enum(jobStates);
export type JobState = z.infer<typeof JobState>;

export const finishedJobStates: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled', 'interrupted']);

export const JobKind = z.enum([
  'backup',
  'restore-entire-vm',
  'restore-items',
  'verify',
  'index',
  'tape-backup',
  'tape-restore',
  'tape-stage',
  'tape-catalog',
  'rehearsal',
  'instant-start',
  'instant-stop',
  'instant-migrate',
  'restore-from-snapshot',
  'restore-disks',
  'restore-azure',
  'copy',
]);
export type JobKind = z.infer<typeof JobKind>;

export const Id = z.string().min(1).max(200);

export const VmSummary = z.object({
  id: Id,
  name: z.string(),
  source: z.string().nullable(),
  pointCount: z.number().int().nonnegative(),
  latestPointAt: z.string().nullable(),
  latestPointId: z.string().nullable(),
  diskCount: z.number().int().nonnegative(),
  provisionedBytes: z.number().nonnegative(),
  /** The places that hold the latest point, by whether a restore can read them now. A place is the
   * primary repository (counted only while the point's manifest reads there), each copy repository
   * (online when its folder holds the point), and each tape copy (online when every tape it needs
   * sits in a slot or drive of the library in use; a tape ejected, vaulted, in a mail slot or in a
   * library that does not answer is offline). */
  copies: z.object({ online: z.number().int().nonnegative(), offline: z.number().int().nonnegative() }),
  /** Some place holds the latest point, and none of them is online: a restore waits for an operator. */
  onlyOffline: z.boolean(),
  /** The offline places, in words ("tape LB0001L9", "copy repository dr-west"), for the inventory's mark. */
  offlinePlaces: z.array(z.string()),
});
export type VmSummary = z.infer<typeof VmSummary>;
/** A VM as the catalog alone knows it, before its places are checked. */
export type CatalogVm = Omit<VmSummary, 'copies' | 'onlyOffline' | 'offlinePlaces'>;

export const PointDisk = z.object({
  key: z.string(),
  fileName: z.string(),
  capacity: z.number().nonnegative(),
});
export type PointDisk = z.infer<typeof PointDisk>;

/** Where a point's data lives: the snapshot tier restores fastest (the primary repository on
 * local disk, storage snapshots), the vault tier holds copies (copy repositories, tape). */
export const Tier = z.enum(['snapshot', 'vault']);
export type Tier = z.infer<typeof Tier>;

export const SiteName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and dashes');

export const PointCopy = z.object({
  kind: z.enum(['repository', 'tape']),
  /** The repository's name, or the tape barcodes. */
  name: z.string(),
  region: z.string().nullable(),
  zone: z.string().nullable(),
  tier: Tier,
  /** 'missing': the catalog knows the copy but its files are gone or unreadable. */
  state: z.enum(['complete', 'missing']),
  copiedAt: z.string().nullable(),
});
export type PointCopy = z.infer<typeof PointCopy>;

/** LRS: three copies in the primary's region; ZRS: three in separate zones of that region;
 * GRS: LRS plus one in another (the paired secondary) region. */
export const CopyPolicy = z.enum(['none', 'lrs', 'zrs', 'grs']);
export type CopyPolicy = z.infer<typeof CopyPolicy>;

export const RepositorySite = z.object({
  id: Id,
  name: z.string(),
  path: z.string(),
  region: z.string(),
  zone: z.string(),
  role: z.enum(['primary', 'copy']),
  blockSize: z.number().int().positive(),
  createdAt: z.string(),
});
export type RepositorySite = z.infer<typeof RepositorySite>;

/** Whether a point's metadata can be trusted: `ok` (its manifest matches the hash recorded when
 * it was made, and makes sense), `legacy` (made before hashes were recorded: checked for sense,
 * its hash adopted when first read), `damaged` (with the reason; restores refuse it). */
export const PointHealth = z.object({
  state: z.enum(['ok', 'legacy', 'damaged']),
  reason: z.string().nullable(),
});
export type PointHealth = z.infer<typeof PointHealth>;

export const RestorePoint = z.object({
  id: Id,
  vmId: Id,
  sequence: z.number().int().nonnegative(),
  kind: z.enum(['full', 'incremental']),
  createdAt: z.string(),
  parentId: z.string().nullable(),
  repositoryId: z.string(),
  disks: z.array(PointDisk),
  changedBytes: z.number().nonnegative(),
  storedBytes: z.number().nonnegative(),
  /** Every copy of the point, fastest tier first. */
  copies: z.array(PointCopy),
  /** The chain key's id when the point is encrypted. */
  keyId: z.string().nullable(),
  health: PointHealth,
});
export type RestorePoint = z.infer<typeof RestorePoint>;

export const JobProgress = z.object({
  jobId: Id,
  /** When the engine measured it (its clock, ms since the epoch): live figures sit on the same
   * time line as the recorded samples, whatever the console's clock says. */
  at: z.number(),
  step: z.string(),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative(),
  bytesPerSecond: z.number().nonnegative(),
  etaSeconds: z.number().nonnegative().nullable(),
  /** Busy seconds of the data movers per stage (source read, decompress, verify, target write,
   * tape read), and the stage that took most: what limits the job. */
  stages: z.record(z.string(), z.number()).optional(),
  bottleneck: z.string().optional(),
});
export type JobProgress = z.infer<typeof JobProgress>;

export const JobStep = z.object({
  name: z.string(),
  title: z.string(),
  state: z.enum(['pending', 'running', 'done', 'failed', 'skipped']),
});
export type JobStep = z.infer<typeof JobStep>;

export const JobQueuePlace = z.object({ position: z.number().int().positive(), reason: z.string() });
export type JobQueuePlace = z.infer<typeof JobQueuePlace>;

export const Job = z.object({
  id: Id,
  kind: JobKind,
  vmId: z.string().nullable(),
  vmName: z.string(),
  state: JobState,
  summary: z.string(),
  steps: z.array(JobStep),
  currentStep: z.string().nullable(),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative(),
  error: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  /** While waiting-for-operator: what for ('approval' under the four-eyes rule). */
  waitingFor: z.string().nullable(),
  /** Who asked for the job: the authenticated identity, as `local:alice`, `directory:carol` or `os:root`. */
  requestedBy: z.string().nullable(),
  /** While queued: its place in the order the scheduler starts jobs (1 = next) and what holds it,
   * in words ("waiting for a worker"). Null in any other state. */
  queue: JobQueuePlace.nullable(),
});
export type Job = z.infer<typeof Job>;

export const Settings = z.object({ fourEyes: z.boolean(), copyPolicy: CopyPolicy });
export type Settings = z.infer<typeof Settings>;

/** Where the home's catalog is, the engines sharing it, and a move to PostgreSQL the settings asked
 * for (made at the engine's next start). URLs are shown without their passwords. */
export const CatalogInfo = z.object({
  backend: z.enum(['sqlite', 'postgresql']),
  /** The SQLite file, or the PostgreSQL URL. */
  location: z.string(),
  /** Whether this engine shares the catalog and its job queue with others (serve --shared). */
  shared: z.boolean(),
  /** The engines that run on this catalog now, this one among them. */
  engines: z.array(z.object({ id: z.string(), host: z.string(), pid: z.number().int(), startedAt: z.string(), self: z.boolean() })),
  moveAtNextStart: z.object({ to: z.string(), askedBy: z.string(), askedAt: z.string() }).nullable(),
  lastMoveFailure: z.object({ at: z.string(), to: z.string(), message: z.string() }).nullable(),
});
export type CatalogInfo = z.infer<typeof CatalogInfo>;

export const JobSample = z.object({ at: z.number(), bytesDone: z.number() });
export type JobSample = z.infer<typeof JobSample>;

export const JobEvent = z.object({
  at: z.string(),
  level: z.enum(['info', 'warning', 'error']),
  step: z.string().nullable(),
  message: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const LocalTarget = z.object({
  kind: z.literal('local'),
  path: z.string().min(1).max(4096),
});
export type LocalTarget = z.infer<typeof LocalTarget>;

export const HostSummary = z.object({
  id: Id,
  name: z.string(),
  kind: z.literal('vsphere'),
  url: z.string(),
  user: z.string(),
  insecure: z.boolean(),
  createdAt: z.string(),
});
export type HostSummary = z.infer<typeof HostSummary>;

export const HostName = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a host name uses letters, digits, dot, dash and underscore');

export const TransportMode = z.enum(['auto', 'san', 'hotadd', 'nbd']);
export type TransportMode = z.infer<typeof TransportMode>;

export const VsphereTarget = z.object({
  kind: z.literal('vsphere'),
  host: HostName,
  hostSystem: z.string().min(1).max(200).optional(),
  datastore: z.string().min(1).max(200).optional(),
  network: z.string().min(1).max(200).optional(),
  diskFormat: z.enum(['thin', 'thick']).optional(),
  transport: TransportMode.optional(),
  /** Original location: roll the existing VM's disks back to the point (needs confirmOverwrite). */
  original: z.boolean().optional(),
  confirmOverwrite: z.boolean().optional(),
  /** A datastore per disk (the key of RestorePlanDisk); a disk not named goes to `datastore`. */
  diskDatastores: z.record(z.string().min(1).max(200), z.string().min(1).max(200)).optional(),
  /** A target network per source network of the backup's NICs; a network not named keeps `network`'s rule. */
  networkMap: z.record(z.string().min(1).max(200), z.string().min(1).max(200)).optional(),
  /** new: a fresh BIOS UUID and generated MAC addresses; keep: as in the backup (the default). */
  identity: z.enum(['new', 'keep']).optional(),
  /** Power the VM on after the restore's last step (default: left off). */
  powerOn: z.boolean().optional(),
});
export type VsphereTarget = z.infer<typeof VsphereTarget>;

/** The steps of the restore wizard, in order; `restore.check` runs every step up to the one named. */
export const RestoreStep = z.enum(['vms', 'mode', 'target', 'datastores', 'network', 'identity', 'summary']);
export type RestoreStep = z.infer<typeof RestoreStep>;

export const RestorePlanDisk = z.object({
  key: z.string(),
  label: z.string(),
  capacity: z.number(),
  datastore: z.string().nullable(),
  freeSpace: z.number().nullable(),
});
export type RestorePlanDisk = z.infer<typeof RestorePlanDisk>;

/** One VM of a restore as the checks got to see it: what it is called after, what it reads and writes. */
export const RestorePlanVm = z.object({
  vm: z.string(),
  vmName: z.string(),
  point: z.string(),
  pointCreatedAt: z.string(),
  /** The VM's name after the restore. */
  name: z.string(),
  bytes: z.number(),
  estimateSeconds: z.number().nullable(),
  /** Which copy is read, in words. */
  copy: z.string(),
  /** What the restore replaces, in words; [] if nothing. */
  replaces: z.array(z.string()),
  disks: z.array(RestorePlanDisk),
  networks: z.array(z.object({ source: z.string(), target: z.string().nullable() })),
});
export type RestorePlanVm = z.infer<typeof RestorePlanVm>;

export const RestoreProblem = z.object({ step: RestoreStep, vm: z.string().nullable(), field: z.string(), message: z.string() });
export type RestoreProblem = z.infer<typeof RestoreProblem>;

export const RestoreCheck = z.object({ problems: z.array(RestoreProblem), vms: z.array(RestorePlanVm) });
export type RestoreCheck = z.infer<typeof RestoreCheck>;

export const HostInventory = z.object({
  hostSystems: z.array(
    z.object({ name: z.string(), connected: z.boolean(), datastores: z.array(z.string()), networks: z.array(z.string()) }),
  ),
  datastores: z.array(z.object({ name: z.string(), type: z.string(), capacity: z.number(), freeSpace: z.number() })),
  vms: z.array(z.string()),
});
export type HostInventory = z.infer<typeof HostInventory>;

/** A backup proxy: where the target side of a restore runs, and which transports it can use.
 * `datastorePaths` is the proxy's block-level view of datastores (SAN LUNs, or the disks a
 * HotAdd proxy VM sees), by datastore name. */
export const ProxySummary = z.object({
  id: Id,
  name: HostName,
  host: HostName,
  transports: z.array(z.enum(['san', 'hotadd', 'nbd'])).min(1),
  proxyVm: z.string().min(1).max(200).nullable(),
  datastorePaths: z.record(z.string().min(1).max(200), z.string().min(1).max(4096)),
  maxTasks: z.number().int().min(1).max(64),
  createdAt: z.string(),
});
export type ProxySummary = z.infer<typeof ProxySummary>;

/** A data mover on a proxy host (`lifeboat mover`): joined with a one-time token, then known by
 * the certificate the engine issued it. What it can reach is what it advertised when it last
 * connected. */
export const MoverState = z.enum(['awaiting-join', 'connected', 'disconnected', 'removed']);
export type MoverState = z.infer<typeof MoverState>;
export const MoverTask = z.object({
  jobId: Id,
  disk: z.string(),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative(),
});
export type MoverTask = z.infer<typeof MoverTask>;
export const MoverSummary = z.object({
  id: Id,
  name: HostName,
  host: HostName,
  proxyVm: z.string().min(1).max(200).nullable(),
  state: MoverState,
  transports: z.array(z.enum(['san', 'hotadd', 'nbd'])),
  /** Datastore name → the path where the mover sees it (its own machine's path). */
  datastores: z.record(z.string().min(1).max(200), z.string().min(1).max(4096)),
  slots: z.number().int().min(0).max(64),
  tasks: z.array(MoverTask),
  /** Bytes written per second over the last few seconds. */
  bytesPerSecond: z.number().nonnegative(),
  lastError: z.string().nullable(),
  lastSeenAt: z.string().nullable(),
  certificateExpiresAt: z.string().nullable(),
  createdAt: z.string(),
});
export type MoverSummary = z.infer<typeof MoverSummary>;

export const OriginalPreview = z.object({
  vmName: z.string(),
  hostSystem: z.string(),
  powerState: z.string(),
  disks: z.array(z.object({ key: z.string(), file: z.string(), capacity: z.number(), pointCapacity: z.number() })),
  safetySnapshot: z.string(),
});
export type OriginalPreview = z.infer<typeof OriginalPreview>;

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string(),
  action: z.string(),
  subject: z.string().nullable(),
  details: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const FileEntry = z.object({
  name: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number(),
  mtime: z.string().nullable(),
  mode: z.number().nullable(),
  target: z.string().optional(),
  /** The entry is named in its folder but could not be read; why. */
  problem: z.string().optional(),
  /** Of a volume: what its file system says about itself (a journal replayed, a view that may be stale). */
  notes: z.array(z.string()).optional(),
});
export type FileEntry = z.infer<typeof FileEntry>;

export const ItemPath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/(disk\d+|lvm)(\/|$)/, 'item paths start with /diskN or /lvm');

export const SearchHit = z.object({
  vmId: z.string(),
  vmName: z.string(),
  path: z.string(),
  versions: z.array(z.object({ pointId: z.string(), sequence: z.number().int(), size: z.number(), mtime: z.number().nullable() })),
});
export type SearchHit = z.infer<typeof SearchHit>;

/** An indexed point whose index left things out (`unreadable`) or may be stale; the counts count
 * all its gaps, `gaps` holds the first of them. */
/** What a file index left out (`unreadable`) or cannot vouch for (`stale`: a volume shown as found, without its journal). */
export const IndexGap = z.object({ path: z.string(), kind: z.enum(['unreadable', 'stale']), reason: z.string() });

export const IndexGaps = z.object({
  vmId: z.string(),
  vmName: z.string(),
  pointId: z.string(),
  sequence: z.number().int(),
  unreadable: z.number().int(),
  stale: z.number().int(),
  gaps: z.array(IndexGap),
});
export type IndexGaps = z.infer<typeof IndexGaps>;

// ---- tape ----

export const Barcode = z.string().regex(/^[A-Z0-9]{1,16}$/, 'a barcode is 1 to 16 capital letters and digits');

export const TapeLocation = z.union([
  z.object({ kind: z.enum(['slot', 'drive', 'mailslot']), index: z.number().int().nonnegative() }),
  z.object({ kind: z.literal('offline') }),
]);

/** A SCSI device of a real library, as its INQUIRY and unit serial number describe it. */
export const ScsiUnit = z.object({
  address: z.string(),
  vendor: z.string(),
  product: z.string(),
  revision: z.string(),
  serial: z.string().nullable(),
});
export type ScsiUnit = z.infer<typeof ScsiUnit>;

export const TapeLibraryName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a library name is 1 to 64 letters, digits, dot, dash and underscore');

/** What the inventory is of: the virtual library, or a configured one over iSCSI or SCSI generic. */
export const TapeLibrarySource = z.object({
  kind: z.enum(['virtual', 'iscsi', 'sg']),
  /** The configured library's name; null for the virtual one. */
  configured: z.string().nullable(),
  /** iscsi://host:port/iqn or the /dev/sg devices; null for the virtual one. */
  address: z.string().nullable(),
  changer: ScsiUnit.nullable(),
  /** Each drive with the changer's data-transfer element it sits in. */
  drives: z.array(ScsiUnit.extend({ element: z.number().int() })),
});
export type TapeLibrarySource = z.infer<typeof TapeLibrarySource>;

export const TapeInventory = z.object({
  name: z.string(),
  slots: z.array(z.string().nullable()),
  drives: z.array(z.object({ index: z.number().int(), barcode: z.string().nullable(), owner: z.string().nullable() })),
  mailslots: z.array(z.string().nullable()),
  cartridges: z.array(
    z.object({
      barcode: z.string(),
      location: TapeLocation,
      writeProtected: z.boolean(),
      capacityBytes: z.number(),
      /** From the catalog: the media set and pool it belongs to, or null for a free tape. */
      mediaSetId: z.string().nullable(),
      pool: z.string().nullable(),
      bytes: z.number().nullable(),
    }),
  ),
  model: z.object({ name: z.string(), bytesPerSecond: z.number(), loadSeconds: z.number() }),
  timeScale: z.number(),
  source: TapeLibrarySource,
});
export type TapeInventory = z.infer<typeof TapeInventory>;

/** A real library the home is configured with; its CHAP secret is in the secret store. */
export const TapeLibrarySummary = z.object({
  id: z.string(),
  name: TapeLibraryName,
  kind: z.enum(['iscsi', 'sg']),
  url: z.string(),
  /** The changer's LUN when the target offers more than one (iSCSI only). */
  lun: z.number().int().nullable(),
  /** Bytes per tape block; null is the driver's default. */
  blockSize: z.number().int().nullable(),
  chapUser: z.string().nullable(),
  inUse: z.boolean(),
  createdAt: z.string(),
});
export type TapeLibrarySummary = z.infer<typeof TapeLibrarySummary>;

export const TapeVolume = z.object({
  barcode: z.string(),
  mediaSetId: z.string(),
  sequence: z.number().int(),
  bytes: z.number(),
  writtenAt: z.string(),
  pool: z.string(),
  state: z.string(),
});
export type TapeVolume = z.infer<typeof TapeVolume>;

export const TapeCopySummary = z.object({
  mediaSetId: z.string(),
  pool: z.string(),
  pointId: z.string(),
  vmId: z.string(),
  vmName: z.string(),
  pointSequence: z.number().int(),
  pointCreatedAt: z.string(),
  storedBytes: z.number(),
  uniqueBlocks: z.number().int(),
  metadataBytes: z.number(),
  barcodes: z.array(z.string()),
});
export type TapeCopySummary = z.infer<typeof TapeCopySummary>;

/** One line of a pull list: a tape a restore needs, in the order it will be read. */
export const PullListEntry = z.object({
  order: z.number().int().positive(),
  barcode: z.string(),
  location: z.string(),
  online: z.boolean(),
  bytes: z.number(),
  estimatedSeconds: z.number(),
  vms: z.array(z.string()),
});
export type PullListEntry = z.infer<typeof PullListEntry>;

export const Prompt = z.object({
  id: Id,
  jobIds: z.array(z.string()),
  kind: z.literal('insert-tape'),
  barcode: z.string().nullable(),
  message: z.string(),
  /** Where to put what is asked for (a mail slot of a library). */
  place: z.string(),
  state: z.enum(['open', 'answered', 'detected', 'cancelled', 'expired']),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
});
export type Prompt = z.infer<typeof Prompt>;

/** An Instant Recovery session: a restore point served over NFS as a datastore, its VM
 * registered and running from it, until it is migrated to production or stopped. */
export const instantStates = ['starting', 'running', 'migrating', 'stopping', 'stopped', 'migrated', 'failed'] as const;
export const InstantState = z.enum(instantStates);
export type InstantState = z.infer<typeof InstantState>;
export const endedInstantStates: ReadonlySet<InstantState> = new Set(['stopped', 'migrated', 'failed']);

/** addr:port the NFS server listens on; the host mounts the export there. */
export const ListenAddress = z
  .string()
  .max(60)
  .regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'ADDRESS:PORT, such as 192.0.2.10:2049');
export const IpAddress = z.union([z.ipv4(), z.ipv6()]);

export const InstantSession = z.object({
  id: Id,
  vmId: Id,
  vmName: z.string(),
  pointId: Id,
  /** The name the VM runs under on the host. */
  name: z.string(),
  host: z.string(),
  hostSystem: z.string().nullable(),
  datastore: z.string(),
  /** nfs://address/path?port=…, the export as an NFS client names it. */
  nfsUrl: z.string(),
  allowed: z.array(z.string()),
  /** Where the guest's writes go: the session's cache folder, or the operator's production folder. */
  writesTo: z.string(),
  redirected: z.boolean(),
  state: InstantState,
  note: z.string().nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
  /** Seconds from the request to the VM powered on, and to the host's first NFS read. */
  poweredOnSeconds: z.number().nullable(),
  firstReadSeconds: z.number().nullable(),
  cacheBytes: z.number().nonnegative(),
  bytesRead: z.number().nonnegative(),
  bytesWritten: z.number().nonnegative(),
  jobId: Id.nullable(),
});
export type InstantSession = z.infer<typeof InstantSession>;

/** A storage snapshot as a restore point (the snapshot tier): where it is, and the VMs on it
 * (each by name and the folder of its .vmx inside the volume). */
export const StorageSnapshotPoint = z.object({
  id: Id,
  array: z.string(),
  volume: z.string(),
  createdAt: z.string(),
  vms: z.array(z.object({ name: z.string(), folder: z.string() })),
});
export type StorageSnapshotPoint = z.infer<typeof StorageSnapshotPoint>;

const ArrayPresentationView = z.object({
  host: z.string(),
  protocol: z.enum(['iscsi', 'fc', 'nfs']),
  datastore: z.string(),
  path: z.string(),
  target: z.string(),
});

/** An array as the console and `array show` see it: volumes, snapshots, live clones (with the
 * job that uses each) and their presentations. */
export const ArrayView = z.object({
  name: z.string(),
  serial: z.string(),
  root: z.string(),
  protocol: z.enum(['iscsi', 'fc', 'nfs']),
  address: z.string(),
  cloneQuota: z.number().int(),
  clonesCreated: z.number().int(),
  volumes: z.array(z.object({ name: z.string(), folder: z.string(), createdAt: z.string() })),
  snapshots: z.array(z.object({ id: z.string(), volume: z.string(), createdAt: z.string() })),
  clones: z.array(
    z.object({
      id: z.string(),
      snapshotId: z.string(),
      createdAt: z.string(),
      usedBy: z.string(),
      allowedServers: z.array(z.string()),
      presentations: z.array(ArrayPresentationView),
    }),
  ),
  hosts: z.array(z.object({ name: z.string(), staticTargets: z.array(z.string()) })),
});
export type ArrayView = z.infer<typeof ArrayView>;

/** An Azure Storage account restores upload to (its key is in the secret store). */
export const AzureAccount = z.object({ id: Id, name: z.string(), blobUrl: z.string(), accountName: z.string(), createdAt: z.string() });
export type AzureAccount = z.infer<typeof AzureAccount>;

export const CopyStatus = z.object({
  policy: CopyPolicy,
  /** Why the repositories cannot meet the policy (null: they can). */
  problem: z.string().nullable(),
  vms: z.array(
    z.object({
      vmId: Id,
      vmName: z.string(),
      points: z.array(
        z.object({
          pointId: Id,
          sequence: z.number().int(),
          createdAt: z.string(),
          copies: z.array(PointCopy),
          meetsPolicy: z.boolean(),
          lacking: z.array(z.string()),
        }),
      ),
    }),
  ),
});
export type CopyStatus = z.infer<typeof CopyStatus>;

export const EncryptionKey = z.object({ keyId: z.string(), createdAt: z.string(), vms: z.array(z.string()), stored: z.boolean() });
export type EncryptionKey = z.infer<typeof EncryptionKey>;

/** A console session key of `lifeboat serve` (the key itself is never shown). */
export const ConsoleSession = z.object({
  id: z.string(),
  identity: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string(),
  expiresAt: z.string(),
});
export type ConsoleSession = z.infer<typeof ConsoleSession>;
