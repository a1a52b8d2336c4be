// One pass over the tapes of a media set serving every restore that needs them: each tape is
// loaded once (after a prompt when it is offline), its label is checked before anything else is
// read, and its data files are read front to back; each stored block goes to every consumer
// whose copy uses it. A consumer that fails or is cancelled drops out; the others go on.
import type { Prompt, TapeVolume } from '../../shared/domain.ts';
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import { TapeMediumError, type TapeDrive, type TapeLibrary } from '../drivers/tape/tape-driver.ts';
import { LifeboatError } from '../errors.ts';
import type { Stage } from '../workers/messages.ts';
import type { PromptBoard, TapeRequest } from './prompt-board.ts';
import {
  BlockStreamReader,
  decodeFrameHeader,
  decodeLabelBlock,
  FRAME_HEADER_BYTES,
  FrameKind,
  readLocation,
  type Frame,
  type TapeLabel,
} from './tape-format.ts';

/** A gap larger than this between wanted blocks is crossed by a (forward) locate, not read. */
const LOCATE_GAP_BYTES = 256 * 1024 * 1024;

export interface PassConsumer {
  readonly jobId: string;
  readonly label: string;
  readonly copy: TapeCopy;
  readonly signal: AbortSignal;
  failure: Error | null;
  /** A stored block off the tape. `payload` is the reader's memory until the promise settles:
   * a consumer copies what it keeps. */
  deliver(uniqueId: number, frame: Frame, payload: Uint8Array): Promise<void>;
  /** Every block has been delivered: finish writing. */
  drain(): Promise<void>;
  waiting(what: string | null): void;
  log(message: string, level?: 'info' | 'warning' | 'error'): void;
  busy(stage: Stage, seconds: number): void;
}

export type TapeReport = {
  barcode: string;
  sequence: number;
  loads: number;
  passes: number;
  starvedEvents: number;
  bytesRead: number;
  seconds: number;
  vms: string[];
  jobIds: string[];
};

type Wanted = { file: number; offset: number; storedLength: number; uniqueId: number; copyId: number };

function alive(consumer: PassConsumer): boolean {
  return consumer.failure === null && !consumer.signal.aborted;
}

/** Per tape sequence, the stored blocks of these copies, in tape order. */
export function wantedByTape(copies: TapeCopy[]): Map<number, Wanted[]> {
  const byTape = new Map<number, Wanted[]>();
  const seen = new Set<number>();
  for (const copy of copies) {
    if (seen.has(copy.id)) continue;
    seen.add(copy.id);
    for (let id = 0; id < copy.uniqueBlocks; id++) {
      const location = readLocation(copy.locations, id);
      if (location.tape === 0) continue;
      let list = byTape.get(location.tape);
      if (!list) byTape.set(location.tape, (list = []));
      list.push({ file: location.file, offset: location.offset, storedLength: location.storedLength, uniqueId: id, copyId: copy.id });
    }
  }
  for (const list of byTape.values()) list.sort((a, b) => a.file - b.file || a.offset - b.offset);
  return byTape;
}

export type PassOptions = {
  library: TapeLibrary;
  prompts: PromptBoard;
  volumes: TapeVolume[];
  consumers: PassConsumer[];
  owner: string;
  /** Where the operator puts an offline tape. */
  place: string;
  /** Prompts raised before the pass for the tapes that were not in the library, by barcode. */
  raised: Map<string, Prompt>;
  /** A consumer all of whose blocks have been read and written: its job goes on at once, not
   * when the pass has read the tapes the others need. */
  finished(consumer: PassConsumer, reports: TapeReport[]): void;
};

/** Whether a tape must be brought to the library before it can be loaded. */
export function mustBeBrought(location: { kind: string } | undefined): boolean {
  return !location || location.kind === 'offline' || location.kind === 'mailslot';
}

export async function runTapePass(options: PassOptions): Promise<TapeReport[]> {
  const { consumers } = options;
  const byTape = wantedByTape(consumers.map((consumer) => consumer.copy));
  const reports: TapeReport[] = [];
  const volumes = [...options.volumes].sort((a, b) => a.sequence - b.sequence).filter((volume) => byTape.get(volume.sequence)?.length);
  const done = new Set<PassConsumer>();
  const finishServed = async (served: PassConsumer[]): Promise<void> => {
    for (const consumer of served) {
      done.add(consumer);
      if (!alive(consumer)) continue;
      try {
        await consumer.drain();
      } catch (error) {
        consumer.failure ??= error as Error;
      }
      if (alive(consumer))
        options.finished(
          consumer,
          reports.filter((report) => report.jobIds.includes(consumer.jobId)),
        );
    }
  };
  for (const [at, volume] of volumes.entries()) {
    const wanted = byTape.get(volume.sequence) as Wanted[];
    const users = consumers.filter((consumer) => wanted.some((entry) => entry.copyId === consumer.copy.id));
    const raised = options.raised.get(volume.barcode);
    await options.prompts.sweep([...options.raised.values()]);
    if (users.some(alive)) reports.push(await readTape(options, volume, wanted, users, raised ?? null));
    else if (raised) options.prompts.withdraw(raised.id);
    // Whoever needs nothing from the tapes still to come is served.
    const later = volumes.slice(at + 1).flatMap((next) => byTape.get(next.sequence) ?? []);
    await finishServed(consumers.filter((consumer) => !done.has(consumer) && !later.some((entry) => entry.copyId === consumer.copy.id)));
  }
  await finishServed(consumers.filter((consumer) => !done.has(consumer)));
  return reports;
}

/** A signal that fires when every consumer of a tape has gone (cancelled or failed). */
function allGone(users: PassConsumer[]): AbortController {
  const controller = new AbortController();
  const check = (): void => {
    if (!users.some(alive)) controller.abort();
  };
  for (const user of users) user.signal.addEventListener('abort', check, { once: true });
  return controller;
}

async function readTape(
  options: PassOptions,
  volume: TapeVolume,
  wanted: Wanted[],
  users: PassConsumer[],
  raised: Prompt | null,
): Promise<TapeReport> {
  const report: TapeReport = {
    barcode: volume.barcode,
    sequence: volume.sequence,
    loads: 0,
    passes: 0,
    starvedEvents: 0,
    bytesRead: 0,
    seconds: 0,
    vms: [...new Set(users.map((user) => user.label))],
    jobIds: users.map((user) => user.jobId),
  };
  const gone = allGone(users);
  let drive: TapeDrive | null = null;
  try {
    const inventory = await options.library.inventory();
    const cartridge = inventory.cartridges.find((tape) => tape.barcode === volume.barcode);
    if (mustBeBrought(cartridge?.location)) {
      for (const user of users.filter(alive)) user.waiting(`tape ${volume.barcode}`);
      const waiting = performance.now();
      try {
        const open =
          raised && options.prompts.isOpen(raised.id) ? raised : options.prompts.raise(tapeRequest(volume, users, options.place));
        await options.prompts.waitFor(open, gone.signal);
      } finally {
        for (const user of users.filter(alive)) user.waiting(null);
      }
      for (const user of users.filter(alive)) user.log(`waited ${seconds(waiting)} s for tape ${volume.barcode} to be brought`);
    } else if (raised) options.prompts.withdraw(raised.id);
    const loading = performance.now();
    drive = await options.library.load(volume.barcode, options.owner, gone.signal);
    report.loads++;
    await drive.rewind(gone.signal);
    for (const user of users.filter(alive)) user.log(`tape ${volume.barcode} loaded and rewound in ${seconds(loading)} s`);
    const first = await drive.read(gone.signal);
    const label = first.kind === 'block' ? decodeLabelBlockOrNull(first.data, volume.barcode) : null;
    if (!label || label.barcode !== volume.barcode || label.mediaSetId !== volume.mediaSetId || label.sequence !== volume.sequence) {
      const found = label
        ? `tape ${label.barcode} (tape ${label.sequence} of media set ${label.mediaSetId.slice(0, 8)})`
        : 'no Lifeboat label';
      throw new LifeboatError(
        'conflict',
        `wrong tape: the cartridge loaded as ${volume.barcode} holds ${found}; expected ${volume.barcode} (tape ${volume.sequence} of media set ${volume.mediaSetId.slice(0, 8)}). Nothing was read from it.`,
      );
    }
    report.passes = 1;
    await readWanted(drive, wanted, users, gone.signal, report);
  } catch (error) {
    // The tape cannot serve anyone who still needed it.
    for (const user of users.filter(alive)) user.failure = error as Error;
  } finally {
    if (drive) {
      const stats = drive.stats();
      report.starvedEvents = stats.starvedEvents;
      report.bytesRead = stats.bytesRead;
      report.seconds = stats.busySeconds;
      await options.library.unload(drive).catch((error: unknown) => {
        for (const user of users) user.log(`tape ${volume.barcode} could not be unloaded: ${(error as Error).message}`, 'warning');
      });
    }
  }
  return report;
}

function seconds(since: number): string {
  return ((performance.now() - since) / 1000).toFixed(1);
}

/** What the operator is asked for a tape the users need. */
export function tapeRequest(volume: TapeVolume, users: { jobId: string; label: string }[], place: string): TapeRequest {
  return {
    barcode: volume.barcode,
    jobIds: users.map((user) => user.jobId),
    place,
    message: `Insert tape ${volume.barcode} (tape ${volume.sequence} of media set ${volume.mediaSetId.slice(0, 8)}, pool ${volume.pool}) for the restore of ${[...new Set(users.map((user) => user.label))].join(', ')}`,
  };
}

function decodeLabelBlockOrNull(block: Uint8Array, barcode: string): TapeLabel | null {
  try {
    return decodeLabelBlock(block, barcode);
  } catch {
    return null;
  }
}

async function readWanted(
  drive: TapeDrive,
  wanted: Wanted[],
  users: PassConsumer[],
  signal: AbortSignal,
  report: TapeReport,
): Promise<void> {
  const byCopy = new Map<number, PassConsumer[]>();
  for (const user of users) byCopy.set(user.copy.id, [...(byCopy.get(user.copy.id) ?? []), user]);
  let reader: BlockStreamReader | null = null;
  let readerFile = -1;
  let badFile = -1;
  let last = { file: -1, offset: -1 };
  // Positioning is time the operator sees as a stalled job: said once per tape, with its cost.
  const located = { times: 0, seconds: 0 };
  try {
    await readEach();
  } finally {
    if (located.times > 0)
      for (const user of users.filter(alive))
        user.log(`tape ${drive.barcode}: positioned ${located.times} time(s) (locate) in ${located.seconds.toFixed(1)} s`);
  }

  async function readEach(): Promise<void> {
    for (const entry of wanted) {
      const takers = (byCopy.get(entry.copyId) ?? []).filter(alive);
      if (takers.length === 0 || entry.file === badFile) continue;
      if (!users.some(alive)) return;
      try {
        if (!reader || readerFile !== entry.file || entry.offset - reader.offset > LOCATE_GAP_BYTES || entry.offset < reader.offset) {
          // Moving back would be a second pass; count it if it ever happens.
          if (entry.file < last.file || (entry.file === last.file && entry.offset < last.offset)) report.passes++;
          const locating = performance.now();
          await drive.locate(entry.file, Math.floor(entry.offset / drive.blockSize), signal);
          located.times++;
          located.seconds += (performance.now() - locating) / 1000;
          reader = new BlockStreamReader(drive, entry.offset, signal);
          readerFile = entry.file;
        } else if (!(await reader.skip(entry.offset - reader.offset))) throw cut(drive, entry);
        const reading = performance.now();
        const head = await reader.take(FRAME_HEADER_BYTES);
        if (!head) throw cut(drive, entry);
        const frame = decodeFrameHeader(head, `tape ${drive.barcode} file ${entry.file} offset ${entry.offset}`);
        if (frame.kind !== FrameKind.block || frame.uniqueId !== entry.uniqueId || frame.storedLength !== entry.storedLength) {
          throw new LifeboatError(
            'corrupt-backup',
            `tape ${drive.barcode} file ${entry.file} offset ${entry.offset}: the block there is not the one the catalog expects`,
          );
        }
        const payload = await reader.take(frame.storedLength);
        if (!payload) throw cut(drive, entry);
        const tapeSeconds = (performance.now() - reading) / 1000;
        for (const taker of takers) taker.busy('tape read', tapeSeconds);
        last = { file: entry.file, offset: entry.offset };
        for (const taker of takers) {
          try {
            await taker.deliver(entry.uniqueId, frame, payload);
          } catch (error) {
            taker.failure ??= error as Error;
          }
        }
      } catch (error) {
        if (signal.aborted) throw new LifeboatError('cancelled', 'every restore reading this tape was cancelled');
        if (!(error instanceof LifeboatError) || error.code !== 'corrupt-backup') throw error;
        // A damaged or unreadable block: whoever needs this file's blocks cannot be served from it.
        const message = error instanceof TapeMediumError ? `${error.message} (tape ${drive.barcode}, file ${entry.file})` : error.message;
        for (const taker of takers) taker.failure ??= new LifeboatError('corrupt-backup', message);
        for (const other of wanted.filter((item) => item.file === entry.file))
          for (const user of byCopy.get(other.copyId) ?? []) user.failure ??= new LifeboatError('corrupt-backup', message);
        badFile = entry.file;
        reader = null;
      }
    }
  }
}

function cut(drive: TapeDrive, entry: Wanted): LifeboatError {
  return new LifeboatError(
    'corrupt-backup',
    `tape ${drive.barcode} ends in the middle of a block (file ${entry.file}, offset ${entry.offset})`,
  );
}
