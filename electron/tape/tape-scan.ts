// Cataloguing a tape by reading it: its label says which media set and which tape of it; its
// last file is its own catalog (copies, block maps, locations). The data files in between are
// spaced over, not read. Tapes of one set scanned one by one complete each other's locations.
import type { Catalog } from '../catalog/catalog.ts';
import type { TapeDrive, TapeLibrary } from '../drivers/tape/tape-driver.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import type { PromptBoard } from './prompt-board.ts';
import {
  BlockStreamReader,
  decodeLabelBlock,
  decodeTapeCatalog,
  FRAME_HEADER_BYTES,
  mergeLocations,
  readLocation,
  type TapeCopyData,
  type TapeLabel,
} from './tape-format.ts';

/** A tape holds at most this many files; a bound on the walk to its catalog. */
const MAX_FILES = 65_535;

type TapeCatalogOptions = { barcode: string; jobId: string; library: TapeLibrary; catalog: Catalog; prompts: PromptBoard; place: string };
/** The tape in its drive, and what its label says. */
type Loaded = { drive: TapeDrive; label: TapeLabel };
/** The tape's label and the copies its own catalog lists. */
type ReadBack = { label: TapeLabel; copies: TapeCopyData[] };

export class TapeCatalogWork implements JobWork {
  static readonly plan = Plan.of<TapeCatalogWork>()
    .step('load-tape', 'Load the tape and read its label', (work, _none, context) => work.load(context))
    .step('read-catalog', "Read the tape's own catalog", (work, loaded, context) => work.readCatalog(loaded, context))
    .step('record', 'Add the tape and its backups to the catalog', (work, readBack, context) => work.record(readBack, context));
  readonly plan = TapeCatalogWork.plan.bind(this);
  private readonly options: TapeCatalogOptions;
  // Kept for finish() (the drive to unload) and result() (what the tape holds).
  private drive: TapeDrive | null = null;
  private label: TapeLabel | null = null;
  private copies: TapeCopyData[] = [];

  constructor(options: TapeCatalogOptions) {
    this.options = options;
  }

  private async load(context: StepContext): Promise<Loaded> {
    const { barcode, library } = this.options;
    const cartridge = (await library.inventory()).cartridges.find((tape) => tape.barcode === barcode);
    if (!cartridge)
      throw new LifeboatError(
        'not-found',
        `the library knows no tape ${barcode}; add its image with \`lifeboat tape import ${barcode} --image FILE\``,
      );
    if (cartridge.location.kind !== 'slot' && cartridge.location.kind !== 'drive') {
      context.waiting(`tape ${barcode}`);
      try {
        await this.options.prompts.waitForTape(
          { barcode, jobIds: [this.options.jobId], place: this.options.place, message: `Insert tape ${barcode} to catalog it` },
          context.signal,
        );
      } finally {
        context.waiting(null);
      }
    }
    const drive = await library.load(barcode, `catalog ${barcode}`, context.signal);
    this.drive = drive;
    await drive.rewind(context.signal);
    const first = await drive.read(context.signal);
    if (first.kind !== 'block') throw new LifeboatError('not-found', `tape ${barcode} is blank`);
    const label = decodeLabelBlock(first.data, barcode);
    if (label.barcode !== barcode)
      throw new LifeboatError(
        'conflict',
        `tape ${barcode} carries the label of tape ${label.barcode}; check the cartridge's barcode sticker`,
      );
    this.label = label;
    context.log(
      `tape ${barcode}: tape ${label.sequence} of media set ${label.mediaSetId} (pool ${label.pool}), written ${label.writtenAt}`,
    );
    return { drive, label };
  }

  private async readCatalog({ drive, label }: Loaded, context: StepContext): Promise<ReadBack> {
    for (let file = 1; file < MAX_FILES; file++) {
      await drive.locate(file, 0, context.signal);
      const first = await drive.read(context.signal);
      if (first.kind !== 'block') break;
      // Data files open with a block frame; the tape's catalog with the length of its header.
      if (Buffer.from(first.data.subarray(0, 4)).toString('latin1') === 'LBTF' && first.data.length >= FRAME_HEADER_BYTES) continue;
      await drive.locate(file, 0, context.signal);
      const reader = new BlockStreamReader(drive, 0, context.signal);
      const chunks: Uint8Array[] = [];
      for (let guard = 0; guard < 10_000_000; guard++) {
        const block = await reader.take(drive.blockSize);
        if (!block) break;
        chunks.push(Uint8Array.prototype.slice.call(block));
      }
      const { header, copies } = decodeTapeCatalog(Buffer.concat(chunks), `tape ${drive.barcode}`);
      if (header.label.mediaSetId !== label.mediaSetId || header.label.barcode !== label.barcode)
        throw new LifeboatError('corrupt-backup', `tape ${drive.barcode}: its catalog belongs to another tape`);
      this.copies = copies;
      context.log(`catalog in file ${file}: ${copies.length} restore point copy(ies)`);
      return { label, copies };
    }
    throw new LifeboatError('corrupt-backup', `tape ${drive.barcode} has no catalog file (it was not finished)`);
  }

  private async record({ label, copies }: ReadBack, context: StepContext): Promise<void> {
    const tapes = this.options.catalog.tapes;
    tapes.addMediaSet({ id: label.mediaSetId, pool: label.pool, blockSize: label.blockSize, state: 'scanned' });
    let bytes = 0;
    for (const copy of copies) {
      for (let id = 0; id < copy.entry.uniqueBlocks; id++) {
        const location = readLocation(copy.locations, id);
        if (location.tape === label.sequence) bytes += location.storedLength + FRAME_HEADER_BYTES;
      }
      const known = tapes.copy(label.mediaSetId, copy.entry.manifest.id);
      const locations = known ? Buffer.from(known.locations) : copy.locations;
      if (known) mergeLocations(locations, copy.locations);
      tapes.saveCopy({
        mediaSetId: label.mediaSetId,
        manifest: copy.entry.manifest,
        uniqueBlocks: copy.entry.uniqueBlocks,
        storedBytes: copy.entry.storedBytes,
        maps: copy.maps,
        locations,
      });
      context.log(`${copy.entry.manifest.vmName} point ${copy.entry.manifest.sequence} catalogued`);
    }
    tapes.recordVolume({
      barcode: label.barcode,
      mediaSetId: label.mediaSetId,
      sequence: label.sequence,
      bytes,
      writtenAt: label.writtenAt,
    });
  }

  async finish(): Promise<void> {
    const drive = this.drive;
    this.drive = null;
    if (drive) await this.options.library.unload(drive);
  }

  result(): Record<string, unknown> {
    return {
      barcode: this.options.barcode,
      mediaSetId: this.label?.mediaSetId ?? null,
      sequence: this.label?.sequence ?? null,
      points: this.copies.map((copy) => ({ vm: copy.entry.manifest.vmName, point: copy.entry.manifest.sequence })),
    };
  }
}
