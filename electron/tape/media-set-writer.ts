// Writes a media set: tapes taken from the free ones in order, each with its label first and its
// own catalog last; a data file that reaches the early-warning point ends there and goes on in a
// new data file on the next tape (a stored block never straddles two tapes).
import type { TapeDrive, TapeLibrary } from '../drivers/tape/tape-driver.ts';
import { LifeboatError } from '../errors.ts';
import type { Manifest } from '../repository/manifest.ts';
import {
  BlockStreamWriter,
  encodeFrameHeader,
  encodeLabelBlock,
  encodeTapeCatalog,
  FrameKind,
  writeLocation,
  type Frame,
  type TapeLabel,
} from './tape-format.ts';

export type CopyOnTape = { manifest: Manifest; uniqueBlocks: number; storedBytes: number; maps: Buffer; locations: Buffer };
export type WrittenVolume = { barcode: string; sequence: number; bytes: number; writtenAt: string; starvedEvents: number; seconds: number };

/** The tape in the drive and the label written on it. */
type LoadedTape = { drive: TapeDrive; label: TapeLabel };

export class MediaSetWriter {
  private readonly library: TapeLibrary;
  private readonly freeTapes: string[];
  private readonly set: { id: string; pool: string };
  private readonly owner: string;
  private readonly signal: AbortSignal;
  private readonly log: (message: string, level?: 'info' | 'warning') => void;
  private tape: LoadedTape | null = null;
  /** The data file being written on the loaded tape. */
  private stream: BlockStreamWriter | null = null;
  private dataFile = 0;
  /** Copies with data on the tape being written (their catalogs go on it). */
  private onThisTape = new Set<CopyOnTape>();
  readonly volumes: WrittenVolume[] = [];

  constructor(options: {
    library: TapeLibrary;
    freeTapes: string[];
    set: { id: string; pool: string };
    owner: string;
    signal: AbortSignal;
    log: (message: string, level?: 'info' | 'warning') => void;
  }) {
    this.library = options.library;
    this.freeTapes = [...options.freeTapes];
    this.set = options.set;
    this.owner = options.owner;
    this.signal = options.signal;
    this.log = options.log;
  }

  private async startTape(): Promise<LoadedTape> {
    for (let guard = 0; guard < 10_000; guard++) {
      const barcode = this.freeTapes.shift();
      if (barcode === undefined)
        throw new LifeboatError(
          'target-full',
          `pool ${this.set.pool} ran out of free tapes after ${this.volumes.length}; import blank tapes and run the backup again`,
        );
      const drive = await this.library.load(barcode, this.owner, this.signal);
      await drive.rewind(this.signal);
      const first = await drive.read(this.signal);
      if (first.kind !== 'end-of-data') {
        // Never overwrite what this catalog does not know: it may be someone's only copy.
        this.log(
          `tape ${barcode} is not blank though the catalog has nothing on it; skipped (catalog it with \`tape catalog ${barcode}\`)`,
          'warning',
        );
        await this.library.unload(drive);
        continue;
      }
      await drive.rewind(this.signal);
      const label: TapeLabel = {
        format: 'lifeboat-tape',
        version: 1,
        barcode,
        mediaSetId: this.set.id,
        pool: this.set.pool,
        sequence: this.volumes.length + 1,
        writtenAt: new Date().toISOString(),
        blockSize: drive.blockSize,
      };
      await drive.write(encodeLabelBlock(label, drive.blockSize), this.signal);
      await drive.writeFilemarks(1);
      this.tape = { drive, label };
      this.dataFile = 0;
      this.log(`tape ${barcode} loaded in drive ${drive.index + 1} as tape ${label.sequence} of the set`);
      return this.tape;
    }
    throw new LifeboatError('internal', `pool ${this.set.pool}: no blank tape among 10000 tried`);
  }

  /** Starts a data file for `copy` (loading the first tape if none is loaded). */
  async beginCopy(copy: CopyOnTape): Promise<void> {
    this.openDataFile(this.tape ?? (await this.startTape()), copy);
  }

  private openDataFile(tape: LoadedTape, copy: CopyOnTape): { tape: LoadedTape; stream: BlockStreamWriter } {
    this.dataFile++;
    this.stream = new BlockStreamWriter(tape.drive, this.signal);
    this.onThisTape.add(copy);
    return { tape, stream: this.stream };
  }

  /** The loaded tape and its open data file: only between beginCopy and endCopy. */
  private writing(): { tape: LoadedTape; stream: BlockStreamWriter } {
    if (!this.tape || !this.stream) throw new LifeboatError('internal', 'a block was written outside a copy (no data file is open)');
    return { tape: this.tape, stream: this.stream };
  }

  /** Writes one stored block of `copy` and records where it went. */
  async writeBlock(copy: CopyOnTape, frame: Frame, payload: Uint8Array): Promise<void> {
    let { tape, stream } = this.writing();
    if (stream.earlyWarning) {
      await this.endDataFile();
      await this.finishTape();
      ({ tape, stream } = this.openDataFile(await this.startTape(), copy));
    }
    writeLocation(copy.locations, frame.uniqueId, {
      tape: tape.label.sequence,
      file: this.dataFile,
      offset: stream.offset,
      storedLength: frame.storedLength,
    });
    await stream.write(encodeFrameHeader(frame));
    await stream.write(payload);
  }

  async endCopy(): Promise<void> {
    await this.endDataFile();
  }

  private async endDataFile(): Promise<void> {
    const { stream } = this.writing();
    await stream.write(
      encodeFrameHeader({ kind: FrameKind.end, codec: 0, uniqueId: 0, rawLength: 0, storedLength: 0, sha256: new Uint8Array(32) }),
    );
    await stream.close();
    this.stream = null;
  }

  /** The tape's catalog as its last file, end of data, and the tape back to its slot. */
  async finishTape(): Promise<void> {
    if (!this.tape) return;
    const { drive, label } = this.tape;
    const catalog = new BlockStreamWriter(drive, this.signal);
    await catalog.write(encodeTapeCatalog(label, [...this.onThisTape]));
    await catalog.close();
    await drive.writeFilemarks(1);
    const stats = drive.stats();
    this.volumes.push({
      barcode: drive.barcode,
      sequence: label.sequence,
      bytes: stats.bytesWritten,
      writtenAt: label.writtenAt,
      starvedEvents: stats.starvedEvents,
      seconds: stats.busySeconds,
    });
    this.log(
      `tape ${drive.barcode} done: ${stats.bytesWritten} bytes, ${this.dataFile} data file(s), ${stats.starvedEvents} drive-starved event(s)`,
    );
    this.tape = null;
    this.onThisTape = new Set();
    await this.library.unload(drive);
  }

  /** After a failure: put the loaded tape back (what it holds is not in the catalog). */
  async abandon(): Promise<void> {
    const drive = this.tape?.drive;
    this.tape = null;
    if (drive) await this.library.unload(drive).catch(() => undefined);
  }
}
