// A tape pass consumer that rebuilds a copy as a full restore point of a staging repository:
// stored blocks are appended to the point's data file as they come off tape, then the block
// maps and manifest are written and the point is published the usual way (rename when synced).
import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError } from '../errors.ts';
import { syncPath } from '../fs/durable.ts';
import { BlockKind, encodeMapFile, sha256Hex, type BlockRecord } from '../repository/block-map.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import { diskMapOf } from './copy-plan.ts';
import { ConsumerBase, type ConsumerOptions } from './consumer-base.ts';
import { MAP_ENTRY_BYTES, type Frame } from './tape-format.ts';

export type StagingConsumerOptions = ConsumerOptions & { repository: Repository };

export class StagingConsumer extends ConsumerBase {
  private readonly options: StagingConsumerOptions;
  private data: FileHandle | null = null;
  private folder = '';
  private size = 0;
  private readonly offsets: Float64Array;
  private readonly frames: (Frame | undefined)[];

  constructor(options: StagingConsumerOptions) {
    super(options);
    this.options = options;
    this.offsets = new Float64Array(options.copy.uniqueBlocks).fill(-1);
    this.frames = new Array<Frame | undefined>(options.copy.uniqueBlocks);
  }

  /** Makes the point's partial folder in the staging repository. */
  async open(): Promise<void> {
    const { manifest } = this.copy;
    await this.options.repository.ensureVm(manifest.vmId, manifest.vmName);
    this.folder = this.options.repository.partialFolder(manifest.vmId, manifest.id);
    await mkdir(this.folder, { recursive: true });
    this.data = await open(join(this.folder, 'data.lbd'), 'w', 0o600);
  }

  /** The data file `open` made: blocks come only between open and drain. */
  private dataFile(): FileHandle {
    if (!this.data) throw new LifeboatError('internal', `${this.label}: a block came before the staging point was opened`);
    return this.data;
  }

  async deliver(uniqueId: number, frame: Frame, payload: Uint8Array): Promise<void> {
    if (this.offsets[uniqueId] !== -1) return;
    const data = this.dataFile();
    await data.write(payload, 0, payload.length, this.size);
    this.offsets[uniqueId] = this.size;
    this.frames[uniqueId] = frame;
    this.size += payload.length;
    this.onBytes(this.size);
  }

  async drain(): Promise<void> {
    const data = this.dataFile();
    await data.sync();
    await data.close();
    this.data = null;
    const { manifest, maps } = this.copy;
    const missing = this.offsets.findIndex((offset) => offset === -1);
    if (missing >= 0) throw new LifeboatError('corrupt-backup', `${this.label}: block ${missing} of the copy never came off tape`);
    const disks: Manifest['disks'] = [];
    for (const [diskIndex, disk] of manifest.disks.entries()) {
      const map = diskMapOf(manifest, maps, diskIndex);
      const records: BlockRecord[] = [];
      for (let index = 0; index * MAP_ENTRY_BYTES < map.length; index++) {
        const entry = map.readUInt32LE(index * MAP_ENTRY_BYTES);
        if (entry === 0) continue;
        const frame = this.frames[entry - 1] as Frame;
        records.push({
          index,
          kind: BlockKind.data,
          codec: frame.codec,
          dataFile: 1,
          offset: this.offsets[entry - 1] as number,
          storedLength: frame.storedLength,
          rawLength: frame.rawLength,
          sha256: frame.sha256,
        });
      }
      const bytes = encodeMapFile(manifest.blockSize, records);
      const mapFile = `disk-${diskIndex}.map`;
      await writeFile(join(this.folder, mapFile), bytes);
      await syncPath(join(this.folder, mapFile));
      disks.push({ ...disk, mapFile, mapSha256: sha256Hex(bytes), mapEntries: records.length });
    }
    // A staged copy is a chain of one: the full point of its own.
    const staged: Manifest = {
      ...manifest,
      sequence: 1,
      kind: 'full',
      parentId: null,
      dependsOn: [],
      disks,
      dataFile: { name: 'data.lbd', size: this.size },
      stats: { ...manifest.stats, storedBytes: this.size },
    };
    await this.options.repository.commitPoint(this.folder, staged);
  }
}
