// The repository side of a backup, whatever the VM is read from (a local folder, a vSphere
// host): finding the chain to build on, the new point's partial folder and data file, each
// disk's scan into a block map and fast-hash sidecar, and the commit. A point that does not
// commit leaves no trace in the repository (close() removes its partial folder).
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChainLink } from '../disks/vmdk-chain.ts';
import type { Disk } from '../disks/disk.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import { BlockKind, encodeMapFile, RECORD_BYTES, readRecord, sha256Hex } from '../repository/block-map.ts';
import { blockCountOf, resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import { decodeFastHashFile, fastHashFileName } from '../repository/fast-hash-map.ts';
import { POINT_FORMAT, POINT_FORMAT_VERSION, type Manifest, type ManifestDisk } from '../repository/manifest.ts';
import type { AuditHead } from '../catalog/audit-anchors.ts';
import type { Repository } from '../repository/repository.ts';
import { writeFileDurably } from '../fs/durable.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import type { BackupKey } from '../keys/key-service.ts';
import { BlockStore, type BackupStats, type StoredBlock } from './block-store.ts';
import { scanDisk } from './disk-scan.ts';

/** The chain a new point builds on: its parent (null: a full point), the new point's number,
 * and the blocks the chain already stores (by SHA-256, hex). */
export type ChainStart = { vmId: string; vmName: string; parent: ResolvedPoint | null; sequence: number; known: Map<string, StoredBlock> };

/** Where a committed point was read from, for the catalog: a folder or `vsphere:<host>/<vm>`. */
export type PointOrigin = { source: string; biosUuid: string | null };

/** One disk as the backup reads it; `onlyBlocks` (a byte a block, 0 = unchanged since the parent)
 * narrows what is read, `changeId` is the host's change id to record for the next backup. */
export type DiskToWrite = {
  key: string;
  fileName: string;
  disk: Disk;
  format: string;
  chain: ChainLink[];
  onlyBlocks?: Uint8Array | null;
  changeId?: string | null;
};

export type PointWriterOptions = {
  repository: Repository;
  pool: WorkerPool;
  /** With a key every stored block is sealed with it. */
  chainKey: BackupKey | null;
  /** The audit log's head, for the manifest. */
  auditHead: () => AuditHead | null;
};

export class PointWriter {
  readonly pointId = randomUUID();
  readonly stats: BackupStats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
  private readonly options: PointWriterOptions;
  private chainStart: ChainStart | null = null;
  private partial: string | null = null;
  private data: FileHandle | null = null;
  private store: BlockStore | null = null;
  private readonly disks: ManifestDisk[] = [];
  private committed: Manifest | null = null;

  constructor(options: PointWriterOptions) {
    this.options = options;
  }

  get blockSize(): number {
    return this.options.repository.info.blockSize;
  }

  /** The point committed, once it is. */
  get manifest(): Manifest | null {
    return this.committed;
  }

  /** The chain of `vmId` to build on: unfinished points swept, damaged ones passed over, the
   * chain's key checked against this backup's. */
  async findChain(vmId: string, vmName: string, context: StepContext): Promise<ChainStart> {
    const { repository, chainKey } = this.options;
    await repository.ensureVm(vmId, vmName);
    const swept = await repository.sweepPartialPoints(vmId);
    if (swept > 0) context.log(`removed ${swept} unfinished point(s) left by an interrupted backup`, 'warning');
    const points = await repository.scanPoints(vmId);
    // A new point never takes the number of one that is there, damaged or not.
    const sequence = (points.at(-1)?.sequence ?? 0) + 1;
    for (const damaged of points.filter((entry) => entry.damage !== null))
      context.log(`point ${damaged.sequence} is damaged (${damaged.damage}); no new point will depend on it`, 'warning');
    const last = points.findLast((entry) => entry.damage === null)?.manifest;
    let parent: ResolvedPoint | null = null;
    if (last) {
      if ((last.encryption?.keyId ?? null) !== (chainKey?.key.keyId ?? null)) {
        throw new LifeboatError(
          'conflict',
          `the chain of ${vmName} ${last.encryption ? `is encrypted with key ${last.encryption.keyId}` : 'is not encrypted'}; this backup would seal with ${chainKey ? `key ${chainKey.key.keyId}` : 'no key'}`,
        );
      }
      parent = await this.parentFrom(last, context);
    }
    const known = new Map<string, StoredBlock>();
    if (parent) {
      if (parent.blockSize !== this.blockSize) {
        throw new LifeboatError(
          'conflict',
          `the chain of ${vmName} uses ${parent.blockSize}-byte blocks, the repository ${this.blockSize}`,
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
    const chainStart = { vmId, vmName, parent, sequence, known };
    this.chainStart = chainStart;
    return chainStart;
  }

  /** The point to build on: the newest healthy one, unless its own chain is broken (a damaged
   * point it depends on, a missing file); then a new full point starts a chain of its own. */
  private async parentFrom(last: Manifest, context: StepContext): Promise<ResolvedPoint | null> {
    try {
      return await resolvePoint(this.options.repository, last.vmId, last.id);
    } catch (error) {
      if (!(error instanceof LifeboatError && error.code === 'corrupt-backup')) throw error;
      context.log(`point ${last.sequence} cannot be built on (${error.message}); starting a new full point`, 'warning');
      return null;
    }
  }

  /** The point the new one builds on (null: it is a full point). */
  get parentPoint(): Manifest | null {
    return this.chainStart?.parent?.point ?? null;
  }

  /** The change id the parent point recorded for a disk of this size (null: none to ask from). */
  previousChangeId(key: string, capacity: number): string | null {
    const disk = this.chainStart?.parent?.point.disks.find((candidate) => candidate.key === key && candidate.capacity === capacity);
    return disk?.changeId ?? null;
  }

  private started(): { chainStart: ChainStart; partial: string; data: FileHandle; store: BlockStore } {
    const { chainStart, partial, data, store } = this;
    if (!chainStart || !partial || !data || !store) throw new LifeboatError('internal', 'the new point was not started');
    return { chainStart, partial, data, store };
  }

  /** The new point's partial folder (recorded for the janitor first) with its data file open. */
  async start(context: StepContext): Promise<void> {
    const chainStart = this.chainStart;
    if (!chainStart) throw new LifeboatError('internal', 'the chain was not looked up');
    const { repository, pool, chainKey } = this.options;
    const partial = repository.partialFolder(chainStart.vmId, this.pointId);
    this.partial = partial;
    context.resources.record('partial-point', { path: partial });
    await mkdir(partial, { recursive: true });
    const data = await open(join(partial, 'data.lbd'), 'wx', 0o600);
    this.data = data;
    this.store = new BlockStore(chainStart.known, data, chainStart.sequence, pool, chainKey?.key.dataKey ?? null, this.stats);
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
      const bytes = await readFile(join(this.options.repository.pointFolder(parent.point), disk.fastHashes.file));
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

  /** Scans one disk into the point (its block map and fast hashes written in the partial
   * folder); `progress` gets the bytes of this disk examined so far. Returns the disk's entry. */
  async writeDisk(entry: DiskToWrite, context: StepContext, progress: (bytesDone: number) => void): Promise<ManifestDisk> {
    const { chainStart, partial, store } = this.started();
    const { blockSize } = this;
    const diskNumber = this.disks.length;
    const blockCount = blockCountOf(entry.disk.capacity, blockSize);
    const { parent } = chainStart;
    const previous = parent?.disks.find((disk) => disk.key === entry.key && disk.capacity === entry.disk.capacity) ?? null;
    const parentFastHashes = parent && previous ? await this.parentFastHashes(parent, entry.key, blockCount, context) : null;
    const { records, fastHashFile, unchangedBlocks, maskIgnored } = await scanDisk({
      disk: entry.disk,
      blockSize,
      blockCount,
      previous,
      parentFastHashes,
      store,
      pool: this.options.pool,
      stats: this.stats,
      signal: context.signal,
      progress,
      onlyBlocks: entry.onlyBlocks ?? null,
      busy: (stage, seconds) => context.busy(stage, seconds),
    });
    context.busy('repository write', store.writing.take());
    if (maskIgnored) context.log(`disk ${entry.key}: the changed-block list is not used (${maskIgnored}): every block was read`, 'warning');
    const mapFile = `disk-${diskNumber}.map`;
    const encoded = encodeMapFile(blockSize, records);
    await writeFileDurably(join(partial, mapFile), encoded);
    const fastHashes = { file: fastHashFileName(diskNumber), sha256: sha256Hex(fastHashFile) };
    await writeFileDurably(join(partial, fastHashes.file), fastHashFile);
    const written: ManifestDisk = {
      key: entry.key,
      fileName: entry.fileName,
      capacity: entry.disk.capacity,
      mapFile,
      mapSha256: sha256Hex(encoded),
      mapEntries: records.length,
      sourceFormat: entry.format,
      sourceChain: entry.chain,
      fastHashes,
      ...(entry.changeId ? { changeId: entry.changeId } : {}),
    };
    this.disks.push(written);
    const unread = unchangedBlocks > 0 ? `, ${unchangedBlocks} unchanged not read` : '';
    context.log(`disk ${entry.key} (${entry.fileName}): ${records.length} changed block(s) of ${blockCount}${unread}`);
    return written;
  }

  /** Seals the data file and commits the point with the VM's configuration; returns its manifest. */
  async commit(vmConfig: Manifest['vmConfig'], context: StepContext): Promise<Manifest> {
    const { chainStart, partial, data, store } = this.started();
    const { repository, chainKey } = this.options;
    const { parent } = chainStart;
    await store.writing.during(() => data.sync());
    context.busy('repository write', store.writing.take());
    await data.close();
    this.data = null;
    throwIfCancelled(context.signal);
    // The wrapped key is on disk before the first point that needs it.
    if (chainKey?.newFile) await repository.writeKeyFile(chainKey.newFile);
    const auditHead = this.options.auditHead();
    const manifest: Manifest = {
      format: POINT_FORMAT,
      version: POINT_FORMAT_VERSION,
      id: this.pointId,
      vmId: chainStart.vmId,
      vmName: chainStart.vmName,
      sequence: chainStart.sequence,
      kind: parent ? 'incremental' : 'full',
      parentId: parent?.point.id ?? null,
      dependsOn: parent?.chain ?? [],
      createdAt: new Date().toISOString(),
      blockSize: this.blockSize,
      vmConfig,
      disks: this.disks,
      dataFile: { name: 'data.lbd', size: store.size },
      stats: this.stats,
      ...(chainKey ? { encryption: { cipher: 'aes-256-gcm' as const, keyId: chainKey.key.keyId } } : {}),
      ...(auditHead ? { auditHead } : {}),
    };
    await repository.commitPoint(partial, manifest);
    this.partial = null;
    this.committed = manifest;
    context.log(
      `point ${manifest.sequence} (${manifest.kind}) committed: ${this.stats.changedBytes} bytes changed, ${this.stats.storedBytes} stored`,
    );
    return manifest;
  }

  /** Closes the data file; an uncommitted point's partial folder is removed. */
  async close(): Promise<void> {
    await this.data?.close().catch(() => undefined);
    this.data = null;
    if (this.partial) await rm(this.partial, { recursive: true, force: true });
    this.partial = null;
  }

  /** What the job reports: the point, once committed, and the figures. */
  result(): Record<string, unknown> {
    const manifest = this.committed;
    return manifest ? { pointId: manifest.id, sequence: manifest.sequence, kind: manifest.kind, ...this.stats } : { ...this.stats };
  }
}
