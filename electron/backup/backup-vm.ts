// Backup of a VM from a local datastore folder into a repository chain: a full point first,
// forward incrementals after, each storing only blocks that changed since its parent. Blocks
// already stored anywhere in the chain are referenced, not stored again; zero blocks are holes.
import { randomUUID } from 'node:crypto';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { openDiskChain, type ChainLink } from '../disks/vmdk-chain.ts';
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { BlockKind, encodeMapFile, RECORD_BYTES, readRecord, sha256Hex, type BlockRecord } from '../repository/block-map.ts';
import { blockCountOf, resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import { defaultCodec } from '../repository/codec.ts';
import { diskCapacityProblem } from '../repository/manifest-check.ts';
import { POINT_FORMAT, POINT_FORMAT_VERSION, type Manifest, type ManifestDisk } from '../repository/manifest.ts';
import type { AuditHead } from '../catalog/audit-anchors.ts';
import type { Repository } from '../repository/repository.ts';
import { writeFileDurably } from '../fs/durable.ts';
import type { CompressResult, DigestResult } from '../workers/messages.ts';
import { ownedCopy, type WorkerPool } from '../workers/pool.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { forEachWindowed, Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { readSourceVm, type SourceVm } from './source-vm.ts';
import type { BackupKey } from '../keys/key-service.ts';

type StoredBlock = Pick<BlockRecord, 'codec' | 'dataFile' | 'offset' | 'storedLength' | 'rawLength' | 'sha256'>;
type SourceDisk = { key: string; fileName: string; disk: Disk; format: string; chain: ChainLink[] };

/** What initialize finds: the VM, its disks (open), the point to build on, the new point's
 * number, and the blocks the chain already stores (by SHA-256, hex). */
type Opened = { source: SourceVm; disks: SourceDisk[]; parent: ResolvedPoint | null; sequence: number; known: Map<string, StoredBlock> };
/** …and the new point's partial folder, with its data file open for writing. */
type Started = Opened & { partial: string; data: FileHandle };
/** …and each disk's block map, written in the partial folder. */
type Transferred = Started & { manifestDisks: ManifestDisk[] };

const IN_FLIGHT_BLOCKS = 8;

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
  /** Blocks being compressed and written, by SHA-256 (hex): a second one alike waits for it. */
  private readonly pending = new Map<string, Promise<StoredBlock>>();
  private dataSize = 0;
  // What finish() closes or removes, and what result() reports.
  private readonly disks: SourceDisk[] = [];
  private partial: string | null = null;
  private data: FileHandle | null = null;
  private stats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
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
          if (record.kind === BlockKind.data) known.set(Buffer.from(record.sha256).toString('hex'), record);
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
    return { ...opened, partial, data };
  }

  private async store(digest: DigestResult, into: Started, context: StepContext): Promise<StoredBlock> {
    const key = Buffer.from(digest.sha256).toString('hex');
    const found = into.known.get(key) ?? (await this.pending.get(key));
    if (found) {
      this.stats.dedupedBlocks++;
      return found;
    }
    const rawLength = digest.data.byteLength; // read before the buffer moves to a worker
    const work = (async (): Promise<StoredBlock> => {
      const seal = this.chainKey ? { key: this.chainKey.key.dataKey, sha256: digest.sha256 } : undefined;
      const compressed = await this.pool.run<CompressResult>(
        { type: 'compress', data: digest.data, codec: defaultCodec, ...(seal ? { seal } : {}) },
        [digest.data.buffer as ArrayBuffer],
      );
      throwIfCancelled(context.signal);
      const offset = this.dataSize;
      this.dataSize += compressed.payload.length;
      await into.data.write(compressed.payload, 0, compressed.payload.length, offset);
      this.stats.storedBytes += compressed.payload.length;
      const stored: StoredBlock = {
        codec: compressed.codec,
        dataFile: into.sequence,
        offset,
        storedLength: compressed.payload.length,
        rawLength,
        sha256: digest.sha256,
      };
      into.known.set(key, stored);
      return stored;
    })();
    this.pending.set(key, work);
    try {
      return await work;
    } finally {
      this.pending.delete(key);
    }
  }

  private async transferDisks(started: Started, context: StepContext): Promise<Transferred> {
    const blockSize = this.repository.info.blockSize;
    const total = capacityOf(started.disks);
    const manifestDisks: ManifestDisk[] = [];
    let done = 0;
    context.progress(0, total);
    for (const [diskNumber, entry] of started.disks.entries()) {
      const blockCount = blockCountOf(entry.disk.capacity, blockSize);
      const previous = started.parent?.disks.find((disk) => disk.key === entry.key && disk.capacity === entry.disk.capacity) ?? null;
      const records: BlockRecord[] = [];
      await forEachWindowed(blockCount, IN_FLIGHT_BLOCKS, async (index) => {
        throwIfCancelled(context.signal);
        const length = Math.min(blockSize, entry.disk.capacity - index * blockSize);
        const raw = ownedCopy(await entry.disk.read(index * blockSize, length));
        const digest = await this.pool.run<DigestResult>({ type: 'digest', data: raw }, [raw.buffer as ArrayBuffer]);
        const before = previous ? readRecord(previous.map, index * RECORD_BYTES) : null;
        const unchanged =
          before !== null &&
          (digest.zero
            ? before.kind === BlockKind.hole
            : before.kind === BlockKind.data && Buffer.from(before.sha256).equals(digest.sha256));
        if (!unchanged) {
          if (digest.zero) {
            // A full point leaves holes implicit; an incremental must say a block became empty.
            if (previous)
              records.push({
                index,
                kind: BlockKind.hole,
                codec: 0,
                dataFile: 0,
                offset: 0,
                storedLength: 0,
                rawLength: 0,
                sha256: new Uint8Array(32),
              });
          } else {
            const stored = await this.store(digest, started, context);
            records.push({ index, kind: BlockKind.data, ...stored });
          }
          this.stats.changedBytes += length;
        }
        done += length;
        this.stats.scannedBytes += length;
        context.progress(done, total);
      });
      const mapFile = `disk-${diskNumber}.map`;
      const encoded = encodeMapFile(blockSize, records);
      await writeFileDurably(join(started.partial, mapFile), encoded);
      manifestDisks.push({
        key: entry.key,
        fileName: entry.fileName,
        capacity: entry.disk.capacity,
        mapFile,
        mapSha256: sha256Hex(encoded),
        mapEntries: records.length,
        sourceFormat: entry.format,
        sourceChain: entry.chain,
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
      dataFile: { name: 'data.lbd', size: this.dataSize },
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
