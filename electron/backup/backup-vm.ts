// Backup of a VM from a local datastore folder into a repository chain: a full point first,
// forward incrementals after, each storing only blocks that changed since its parent. Blocks
// already stored anywhere in the chain are referenced, not stored again; zero blocks are holes.
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { openDiskChain, type ChainLink } from '../disks/vmdk-chain.ts';
import type { Disk } from '../disks/disk.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import { BlockKind, encodeMapFile, RECORD_BYTES, readRecord, sha256Hex } from '../repository/block-map.ts';
import { blockCountOf, resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import { decodeFastHashFile, fastHashFileName } from '../repository/fast-hash-map.ts';
import { diskCapacityProblem } from '../repository/manifest-check.ts';
import { POINT_FORMAT, POINT_FORMAT_VERSION, type Manifest, type ManifestDisk } from '../repository/manifest.ts';
import type { AuditHead } from '../catalog/audit-anchors.ts';
import type { Repository } from '../repository/repository.ts';
import { writeFileDurably } from '../fs/durable.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { readSourceVm, type SourceVm } from './source-vm.ts';
import type { BackupKey } from '../keys/key-service.ts';
import { BlockStore, type BackupStats, type StoredBlock } from './block-store.ts';
import { scanDisk } from './disk-scan.ts';

type SourceDisk = { key: string; fileName: string; disk: Disk; format: string; chain: ChainLink[] };

/** What initialize finds: the VM, its disks (open), the point to build on, the new point's
 * number, and the blocks the chain already stores (by SHA-256, hex). */
type Opened = { source: SourceVm; disks: SourceDisk[]; parent: ResolvedPoint | null; sequence: number; known: Map<string, StoredBlock> };
/** …and the new point's partial folder, with its data file open for writing. */
type Started = Opened & { partial: string; data: FileHandle; store: BlockStore };
/** …and each disk's block map, written in the partial folder. */
type Transferred = Started & { manifestDisks: ManifestDisk[] };

function capacityOf(disks: SourceDisk[]): number {
  return disks.reduce((sum, entry) => sum + entry.disk.capacity, 0);
}

export class BackupWork implements JobWork {
  static readonly plan = Plan.of<BackupWork>()
    .step('initialize', 'Initialization: read the VM, open its disks, find the chain', (work, _none, context) => work.initialize(context))
    .step('read-configuration', 'Read the VM configuration', (work, opened, context) => work.readConfiguration(opened, context))
    .step('transfer-disks', 'Read disks, keep changed blocks', (work, started, context) => work.transferDisks(started, context))
    .step('commit-point', 'Commit the restore point', (work, transferred, context) => work.commit(transferred, context));
  readonly plan = BackupWork.plan.bind(this);
  private readonly pointId = randomUUID();
  // What finish() closes or removes, and what result() reports.
  private readonly disks: SourceDisk[] = [];
  private partial: string | null = null;
  private data: FileHandle | null = null;
  private readonly stats: BackupStats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
  private manifest: Manifest | null = null;

  private readonly repository: Repository;
  private readonly pool: WorkerPool;
  private readonly sourceFolder: string;
  private readonly onCommitted: (manifest: Manifest, source: SourceVm) => void;
  private readonly chainKey: BackupKey | null;

  private readonly auditHead: () => AuditHead | null;

  /** `onCommitted` indexes the new point (in the catalog) as soon as the repository holds it.
   * With a `chainKey` every stored block is sealed with it. `auditHead` gives the audit log's
   * head for the manifest. */
  constructor(
    repository: Repository,
    pool: WorkerPool,
    sourceFolder: string,
    onCommitted: (manifest: Manifest, source: SourceVm) => void,
    chainKey: BackupKey | null = null,
    auditHead: () => AuditHead | null = () => null,
  ) {
    this.repository = repository;
    this.pool = pool;
    this.sourceFolder = sourceFolder;
    this.onCommitted = onCommitted;
    this.chainKey = chainKey;
    this.auditHead = auditHead;
  }

  private async initialize(context: StepContext): Promise<Opened> {
    const source = await readSourceVm(this.sourceFolder);
    // Every disk (and every link of its snapshot chain) opens before the repository is touched,
    // so a disk Lifeboat cannot read stores nothing.
    for (const entry of source.vmx.disks) {
      const path = join(source.folder, entry.fileName);
      const { disk, format, chain } = await openDiskChain(path);
      this.disks.push({ key: entry.key, fileName: entry.fileName, disk, format, chain });
      if (chain.length > 1)
        context.log(`disk ${entry.key} is a snapshot chain, read as the VM sees it: ${chain.map((link) => link.fileName).join(' → ')}`);
      const problem = diskCapacityProblem(disk.capacity);
      if (problem) throw new LifeboatError('invalid-source', `${path}: ${problem}`);
    }
    context.log(`VM ${source.vmx.displayName}: ${this.disks.length} disk(s), ${capacityOf(this.disks)} bytes`);
    await this.repository.ensureVm(source.vmId, source.vmx.displayName);
    const swept = await this.repository.sweepPartialPoints(source.vmId);
    if (swept > 0) context.log(`removed ${swept} unfinished point(s) left by an interrupted backup`, 'warning');
    const points = await this.repository.scanPoints(source.vmId);
    // A new point never takes the number of one that is there, damaged or not.
    const sequence = (points.at(-1)?.sequence ?? 0) + 1;
    for (const damaged of points.filter((entry) => entry.damage !== null))
      context.log(`point ${damaged.sequence} is damaged (${damaged.damage}); no new point will depend on it`, 'warning');
    const last = points.findLast((entry) => entry.damage === null)?.manifest;
    let parent: ResolvedPoint | null = null;
    if (last) {
      if ((last.encryption?.keyId ?? null) !== (this.chainKey?.key.keyId ?? null)) {
        throw new LifeboatError(
          'conflict',
          `the chain of ${source.vmx.displayName} ${last.encryption ? `is encrypted with key ${last.encryption.keyId}` : 'is not encrypted'}; this backup would seal with ${this.chainKey ? `key ${this.chainKey.key.keyId}` : 'no key'}`,
        );
      }
      parent = await this.parentFrom(last, context);
    }
    const known = new Map<string, StoredBlock>();
    if (parent) {
      if (parent.blockSize !== this.repository.info.blockSize) {
        throw new LifeboatError(
          'conflict',
          `the chain of ${source.vmx.displayName} uses ${parent.blockSize}-byte blocks, the repository ${this.repository.info.blockSize}`,
        );
      }
      for (const disk of parent.disks) {
        for (let index = 0; index < disk.blockCount; index++) {
          const record = readRecord(disk.map, index * RECORD_BYTES);
          if (record.kind !== BlockKind.data) continue;
          // Where the bytes are, not the record: its block index is the earlier point's.
          const { codec, dataFile, offset, storedLength, rawLength, sha256 } = record;
          known.set(Buffer.from(sha256).toString('hex'), { codec, dataFile, offset, storedLength, rawLength, sha256 });
        }
      }
      context.log(`incremental after point ${parent.point.sequence}; ${known.size} distinct blocks already stored`);
    } else {
      context.log('no earlier point to build on: this is a full backup');
    }
    return { source, disks: this.disks, parent, sequence, known };
  }

  /** The point to build on: the newest healthy one, unless its own chain is broken (a damaged
   * point it depends on, a missing file); then a new full point starts a chain of its own. */
  private async parentFrom(last: Manifest, context: StepContext): Promise<ResolvedPoint | null> {
    try {
      return await resolvePoint(this.repository, last.vmId, last.id);
    } catch (error) {
      if (!(error instanceof LifeboatError && error.code === 'corrupt-backup')) throw error;
      context.log(`point ${last.sequence} cannot be built on (${error.message}); starting a new full point`, 'warning');
      return null;
    }
  }

  private async readConfiguration(opened: Opened, context: StepContext): Promise<Started> {
    const { source } = opened;
    const partial = this.repository.partialFolder(source.vmId, this.pointId);
    this.partial = partial;
    context.resources.record('partial-point', { path: partial });
    await mkdir(partial, { recursive: true });
    const data = await open(join(partial, 'data.lbd'), 'wx', 0o600);
    this.data = data;
    context.log(`configuration ${source.vmxFile} (${source.vmxText.length} bytes)`);
    const store = new BlockStore(opened.known, data, opened.sequence, this.pool, this.chainKey?.key.dataKey ?? null, this.stats);
    return { ...opened, partial, data, store };
  }

  /** The parent's fast hashes of a disk, 16 bytes a block; null (every block's SHA-256 is then
   * taken) when the parent has none or they cannot be trusted, which is said in the log. */
  private async parentFastHashes(parent: ResolvedPoint, key: string, blockCount: number, context: StepContext): Promise<Buffer | null> {
    const disk = parent.point.disks.find((candidate) => candidate.key === key);
    const label = `disk ${key}: point ${parent.point.sequence}`;
    if (!disk?.fastHashes) {
      context.log(`${label} has no fast hashes (made before they were kept): every block's SHA-256 is taken`);
      return null;
    }
    try {
      const bytes = await readFile(join(this.repository.pointFolder(parent.point), disk.fastHashes.file));
      return decodeFastHashFile(bytes, { blockSize: parent.blockSize, blockCount, sha256: disk.fastHashes.sha256 });
    } catch (error) {
      const why = isErrnoCode(error, 'ENOENT')
        ? `its ${disk.fastHashes.file} is missing`
        : error instanceof LifeboatError
          ? error.message
          : null;
      if (why === null) throw error;
      context.log(`${label}: ${why}; every block's SHA-256 is taken`, 'warning');
      return null;
    }
  }

  private async transferDisks(started: Started, context: StepContext): Promise<Transferred> {
    const blockSize = this.repository.info.blockSize;
    const total = capacityOf(started.disks);
    const manifestDisks: ManifestDisk[] = [];
    let before = 0;
    context.progress(0, total);
    for (const [diskNumber, entry] of started.disks.entries()) {
      const blockCount = blockCountOf(entry.disk.capacity, blockSize);
      const previous = started.parent?.disks.find((disk) => disk.key === entry.key && disk.capacity === entry.disk.capacity) ?? null;
      const parentFastHashes =
        started.parent && previous ? await this.parentFastHashes(started.parent, entry.key, blockCount, context) : null;
      const { records, fastHashFile } = await scanDisk({
        disk: entry.disk,
        blockSize,
        blockCount,
        previous,
        parentFastHashes,
        store: started.store,
        pool: this.pool,
        stats: this.stats,
        signal: context.signal,
        progress: (done) => context.progress(before + done, total),
      });
      before += entry.disk.capacity;
      const mapFile = `disk-${diskNumber}.map`;
      const encoded = encodeMapFile(blockSize, records);
      await writeFileDurably(join(started.partial, mapFile), encoded);
      const fastHashes = { file: fastHashFileName(diskNumber), sha256: sha256Hex(fastHashFile) };
      await writeFileDurably(join(started.partial, fastHashes.file), fastHashFile);
      manifestDisks.push({
        key: entry.key,
        fileName: entry.fileName,
        capacity: entry.disk.capacity,
        mapFile,
        mapSha256: sha256Hex(encoded),
        mapEntries: records.length,
        sourceFormat: entry.format,
        sourceChain: entry.chain,
        fastHashes,
      });
      context.log(`disk ${entry.key} (${entry.fileName}): ${records.length} changed block(s) of ${blockCount}`);
    }
    return { ...started, manifestDisks };
  }

  private async commit(transferred: Transferred, context: StepContext): Promise<void> {
    const { source, data, parent, sequence } = transferred;
    await data.sync();
    await data.close();
    this.data = null;
    throwIfCancelled(context.signal);
    // The wrapped key is on disk before the first point that needs it.
    if (this.chainKey?.newFile) await this.repository.writeKeyFile(this.chainKey.newFile);
    const auditHead = this.auditHead();
    const manifest: Manifest = {
      format: POINT_FORMAT,
      version: POINT_FORMAT_VERSION,
      id: this.pointId,
      vmId: source.vmId,
      vmName: source.vmx.displayName,
      sequence,
      kind: parent ? 'incremental' : 'full',
      parentId: parent?.point.id ?? null,
      dependsOn: parent?.chain ?? [],
      createdAt: new Date().toISOString(),
      blockSize: this.repository.info.blockSize,
      vmConfig: { fileName: source.vmxFile, text: source.vmxText },
      disks: transferred.manifestDisks,
      dataFile: { name: 'data.lbd', size: transferred.store.size },
      stats: this.stats,
      ...(this.chainKey ? { encryption: { cipher: 'aes-256-gcm' as const, keyId: this.chainKey.key.keyId } } : {}),
      ...(auditHead ? { auditHead } : {}),
    };
    await this.repository.commitPoint(transferred.partial, manifest);
    this.partial = null;
    this.manifest = manifest;
    this.onCommitted(manifest, source);
    context.log(
      `point ${manifest.sequence} (${manifest.kind}) committed: ${this.stats.changedBytes} bytes changed, ${this.stats.storedBytes} stored`,
    );
  }

  async finish(): Promise<void> {
    await this.data?.close().catch(() => undefined);
    await Promise.all(this.disks.map((entry) => entry.disk.close().catch(() => undefined)));
    // A point that did not commit leaves no trace in the repository.
    if (this.partial) await rm(this.partial, { recursive: true, force: true });
  }

  result(): Record<string, unknown> {
    const manifest = this.manifest;
    return manifest ? { pointId: manifest.id, sequence: manifest.sequence, kind: manifest.kind, ...this.stats } : { ...this.stats };
  }
}
