// A real tape library (SMC media changer + SSC drives) behind the engine's TapeLibrary. The
// changer's element status is the truth about where cartridges are (read afresh for every
// move); this process only adds which drives it has lent to whom. Moves of the one robot run
// one at a time. A loaded drive is waited for (TEST UNIT READY, bounded), set to variable
// blocks, compression off, rewound, and handed out as a ScsiTapeDrive.
import { LifeboatError } from '../../errors.ts';
import { LTO9 } from '../../drivers/tape/library-state.ts';
import type { Cartridge, DriveModel, LibraryInventory, TapeDrive, TapeLibrary, TapeLocation } from '../../drivers/tape/tape-driver.ts';
import { DEFAULT_TAPE_BLOCK } from '../../drivers/tape/virtual-library.ts';
import { sleep } from '../../drivers/tape/virtual-drive.ts';
import { isRefused } from './drive-faults.ts';
import { testUnitReady, type InquiryData } from './inquiry.ts';
import { discoverLibrary, type DiscoveredLibrary, type DriveMapping } from './library-discovery.ts';
import type { ScsiDevice } from './scsi-device.ts';
import { ScsiTapeDrive } from './scsi-drive.ts';
import { describeSense, SenseKey } from './sense.ts';
import { moveMedium, readElementStatus, type ElementStatus, type ElementType } from './smc.ts';
import { loadUnload, modeSenseTape, readPosition, rewind, setBlockSize, setCompression } from './ssc.ts';

export type ScsiLibraryOptions = {
  name: string;
  /** Bytes per tape block; default 256 KiB. */
  blockSize?: number;
  /** The changer to use when the devices hold several. */
  changer?: ScsiDevice;
  /** Lets go of what carries the commands (the iSCSI session), after the library is closed. */
  close?: () => Promise<void>;
  /** Rates and buffer of the drives (for starvation accounting); default LTO-9. */
  model?: Partial<DriveModel>;
  /** Longest wait for a loaded drive to become ready; default 5 minutes. */
  readyTimeoutMs?: number;
  /** Read-ahead and write-behind queue of each drive; default 64 MiB. */
  queueBytes?: number;
  /** What other hosts driving the same library (engines of a shared catalog) must not use while
   * this one does: a drive it lends, and the robot while it moves. Default: this process alone. */
  holds?: LibraryHolds;
};

/** Takes a hold named `key` across the hosts sharing a library, with its release; null when
 * another host holds it. */
export type LibraryHolds = (key: string) => (() => void) | null;

export type LibraryDescription = {
  changer: InquiryData & { address: string; serial: string | null };
  drives: (InquiryData & { address: string; serial: string | null; element: number })[];
  /** How drives were matched to data-transfer elements: the changer's identifiers, or LUN order. */
  mapping: DriveMapping;
};

const READY_POLL_MS = 250;
const ELEMENT_TYPES: ElementType[] = ['transport', 'storage', 'import-export', 'data-transfer'];
const DEFAULT_READY_TIMEOUT_MS = 5 * 60 * 1000;
/** How often, and how long, a robot another host moves is waited for (its moves take seconds). */
const ROBOT_POLL_MS = 100;
const ROBOT_WAIT_MS = 2 * 60 * 1000;

export async function openScsiLibrary(devices: ScsiDevice[], options: ScsiLibraryOptions): Promise<ScsiTapeLibrary> {
  return new ScsiTapeLibrary(await discoverLibrary(devices, options.changer), options);
}

/** The name a cartridge goes by: its barcode, or where it sits when it has no label. */
function labelOf(element: ElementStatus): string | null {
  if (!element.full) return null;
  return element.barcode?.trim() || `NOLABEL${element.address}`;
}

function ofType(elements: ElementStatus[], type: ElementType): ElementStatus[] {
  return elements.filter((element) => element.type === type).sort((a, b) => a.address - b.address);
}

export class ScsiTapeLibrary implements TapeLibrary {
  private readonly found: DiscoveredLibrary;
  private readonly options: ScsiLibraryOptions;
  private readonly model: DriveModel;
  private readonly blockSize: number;
  /** Drives lent out by this process (drive is null while it is being made ready), each with the
   * release of its hold across hosts. */
  private readonly lent = new Map<number, { owner: string; drive: ScsiTapeDrive | null; release: () => void }>();
  /** Whether each drive's READ POSITION tells the truth, learned at its first load. */
  private readonly truthfulPosition = new Map<number, boolean>();
  private robotQueue: Promise<unknown> = Promise.resolve();

  constructor(found: DiscoveredLibrary, options: ScsiLibraryOptions) {
    this.found = found;
    this.options = options;
    const name = found.drives[0]?.product.trim();
    this.model = { ...LTO9, ...(name ? { name } : {}), ...options.model };
    this.blockSize = options.blockSize ?? DEFAULT_TAPE_BLOCK;
  }

  describe(): LibraryDescription {
    const { device: _changer, ...changer } = this.found.changer;
    return {
      changer,
      drives: this.found.drives.map(({ device: _device, ...drive }) => drive),
      mapping: this.found.mapping,
    };
  }

  private get changer(): ScsiDevice {
    return this.found.changer.device;
  }

  private get name(): string {
    return this.options.name;
  }

  /** The robot moves one cartridge at a time: one of this process's at a time, each while no
   * other host sharing the library moves it (their element status would be stale under them). */
  private robot<T>(work: () => Promise<T>): Promise<T> {
    const held = async (): Promise<T> => {
      const release = await this.holdRobot();
      try {
        return await work();
      } finally {
        release();
      }
    };
    const run = this.robotQueue.then(held, held);
    this.robotQueue = run.catch(() => undefined);
    return run;
  }

  /** This library's hold named `what`, across the hosts sharing it: the library is known by the
   * name the catalog they share gives it, and its changer's serial number (two targets of a test
   * lab can report the same one). */
  private hold(what: string): (() => void) | null {
    const holds = this.options.holds;
    if (!holds) return () => undefined;
    return holds(`tape-library:${this.name}:${this.found.changer.serial ?? '-'}:${what}`);
  }

  private async holdRobot(): Promise<() => void> {
    for (let waited = 0; waited <= ROBOT_WAIT_MS; waited += ROBOT_POLL_MS) {
      const release = this.hold('robot');
      if (release) return release;
      await sleep(ROBOT_POLL_MS);
    }
    throw new LifeboatError(
      'unavailable',
      `the robot of ${this.name} stayed busy with another engine's moves for ${ROBOT_WAIT_MS / 60_000} minutes`,
    );
  }

  /** Holds drive `index` across the hosts sharing the library; null when another host uses it. */
  private holdDrive(index: number): (() => void) | null {
    return this.hold(`drive-element-${this.found.drives[index]?.element ?? index}`);
  }

  /** Every element, asked for one type at a time: tgt garbles the answer for all types at once. */
  private async elements(): Promise<ElementStatus[]> {
    const all: ElementStatus[] = [];
    for (const type of ELEMENT_TYPES) {
      if (this.found.elements[type].count === 0) continue;
      all.push(...(await readElementStatus(this.changer, { type, identifiers: false })).filter((element) => element.type === type));
    }
    return all;
  }

  private move(source: number, destination: number): Promise<void> {
    return moveMedium(this.changer, this.found.elements.transport.first, source, destination);
  }

  private driveOf(element: ElementStatus): number {
    return this.found.drives.findIndex((drive) => drive.element === element.address);
  }

  private locationOf(element: ElementStatus, elements: ElementStatus[]): TapeLocation {
    if (element.type === 'data-transfer') {
      const index = this.driveOf(element);
      return index >= 0 ? { kind: 'drive', index } : { kind: 'offline' };
    }
    if (element.type === 'storage') return { kind: 'slot', index: ofType(elements, 'storage').indexOf(element) };
    if (element.type === 'import-export') return { kind: 'mailslot', index: ofType(elements, 'import-export').indexOf(element) };
    return { kind: 'offline' };
  }

  private find(elements: ElementStatus[], barcode: string): ElementStatus {
    const element = elements.find((candidate) => labelOf(candidate) === barcode);
    if (!element)
      throw new LifeboatError(
        'not-found',
        `${this.name} holds no tape ${barcode} (none of its slots, drives or mail slots has that barcode)`,
      );
    return element;
  }

  async inventory(): Promise<LibraryInventory> {
    const elements = await this.elements();
    const cartridges: Cartridge[] = [];
    for (const element of elements) {
      const barcode = labelOf(element);
      if (!barcode || element.type === 'transport') continue;
      const location = this.locationOf(element, elements);
      const index = location.kind === 'drive' ? location.index : -1;
      cartridges.push({ barcode, location, writeProtected: this.lent.get(index)?.drive?.writeProtected ?? false, capacityBytes: 0 });
    }
    return {
      name: this.name,
      slots: ofType(elements, 'storage').map(labelOf),
      drives: this.found.drives.map((drive, index) => {
        const element = elements.find((candidate) => candidate.type === 'data-transfer' && candidate.address === drive.element);
        return { index, barcode: element ? labelOf(element) : null, owner: this.lent.get(index)?.owner ?? null };
      }),
      mailslots: ofType(elements, 'import-export').map(labelOf),
      cartridges: cartridges.sort((a, b) => a.barcode.localeCompare(b.barcode)),
      model: this.model,
      timeScale: 1,
      blockSize: this.blockSize,
    };
  }

  async load(barcode: string, owner: string, signal?: AbortSignal): Promise<TapeDrive> {
    const index = await this.robot(async () => {
      const elements = await this.elements();
      const where = this.find(elements, barcode);
      if (where.type === 'import-export') {
        const mailslot = ofType(elements, 'import-export').indexOf(where) + 1;
        throw new LifeboatError('unavailable', `tape ${barcode} is in mail slot ${mailslot} of ${this.name}; import it first`);
      }
      if (where.type === 'transport') throw new LifeboatError('unavailable', `tape ${barcode} is in the robot's hand; try again`);
      let chosen: number;
      if (where.type === 'data-transfer') {
        // Left in a drive (by an earlier run, or a host that let go of it): taken over where it stands.
        chosen = this.driveOf(where);
        if (chosen < 0)
          throw new LifeboatError('unavailable', `tape ${barcode} is in a drive (element ${where.address}) that ${this.name} cannot reach`);
        const holder = this.lent.get(chosen);
        if (holder) throw new LifeboatError('conflict', `tape ${barcode} is in drive ${chosen + 1}, in use by ${holder.owner}`);
        const release = this.holdDrive(chosen);
        if (!release) throw new LifeboatError('conflict', `tape ${barcode} is in drive ${chosen + 1}, in use by another engine`);
        this.lent.set(chosen, { owner, drive: null, release });
      } else {
        const free = this.freeDrive(elements);
        if (!free)
          throw new LifeboatError('conflict', `every drive of ${this.name} holds a tape or is in use; unload one to load tape ${barcode}`);
        chosen = free.index;
        this.lent.set(chosen, { owner, drive: null, release: free.release });
        const into = chosen;
        await this.move(where.address, this.found.drives[into]?.element ?? -1).catch((error: unknown) => {
          this.letGo(into);
          throw error;
        });
      }
      return chosen;
    });
    try {
      const drive = await this.prepare(index, barcode, signal);
      const held = this.lent.get(index);
      if (held) held.drive = drive;
      return drive;
    } catch (error) {
      this.letGo(index);
      throw error;
    }
  }

  /** The first drive that is empty and used by no host, held for this one. A drive another host
   * holds may be empty still: its cartridge is on its way. */
  private freeDrive(elements: ElementStatus[]): { index: number; release: () => void } | null {
    for (const [index, drive] of this.found.drives.entries()) {
      const element = elements.find((candidate) => candidate.type === 'data-transfer' && candidate.address === drive.element);
      if (this.lent.has(index) || element === undefined || element.full) continue;
      const release = this.holdDrive(index);
      if (release) return { index, release };
    }
    return null;
  }

  /** Drive `index` is no longer lent, here or across hosts. */
  private letGo(index: number): void {
    const held = this.lent.get(index);
    this.lent.delete(index);
    try {
      held?.release();
    } catch {
      // The place holds were kept cannot be reached: a lost session let go of its holds already.
    }
  }

  /** Waits for the drive, sets it up for the engine and rewinds: variable blocks (each WRITE
   * carries one block of blockSize, and a block of another size reads back as what it is),
   * compression off (the engine's blocks are already compressed or encrypted). */
  private async prepare(index: number, barcode: string, signal?: AbortSignal): Promise<ScsiTapeDrive> {
    const device = this.found.drives[index]?.device;
    if (!device) throw new LifeboatError('internal', `drive ${index + 1} of ${this.name} does not exist`);
    await this.waitReady(device, index, barcode, signal);
    const mode = await modeSenseTape(device);
    if (mode.blockSize !== 0) await setBlockSize(device, 0);
    if (mode.compression !== false)
      await setCompression(device, false).catch((error: unknown) => {
        if (!isRefused(error)) throw error;
      });
    await rewind(device, signal);
    return new ScsiTapeDrive({
      index,
      barcode,
      device,
      blockSize: this.blockSize,
      model: this.model,
      writeProtected: mode.writeProtected,
      positionReporting: await this.positionIsTruthful(index, device),
      ...(this.options.queueBytes ? { queueBytes: this.options.queueBytes } : {}),
    });
  }

  private async waitReady(device: ScsiDevice, index: number, barcode: string, signal?: AbortSignal): Promise<void> {
    const timeoutMs = this.options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; attempt < Math.ceil(timeoutMs / READY_POLL_MS) + 1; attempt++) {
      const sense = await testUnitReady(device);
      if (!sense) return;
      const waiting = sense.senseKey === SenseKey.notReady || sense.senseKey === SenseKey.unitAttention;
      if (!waiting || performance.now() >= deadline)
        throw new LifeboatError(
          'unavailable',
          `drive ${index + 1} of ${this.name} did not become ready with tape ${barcode}${waiting ? ` within ${Math.round(timeoutMs / 1000)} s` : ''}: ${describeSense(sense)}`,
        );
      await sleep(READY_POLL_MS, signal);
    }
    throw new LifeboatError('unavailable', `drive ${index + 1} of ${this.name} did not become ready with tape ${barcode}`);
  }

  /** At the beginning of tape a drive that counts its position says so; one that does not
   * (tgt answers zeros without "beginning of tape") is never asked again: the count here is all
   * there is. */
  private async positionIsTruthful(index: number, device: ScsiDevice): Promise<boolean> {
    const known = this.truthfulPosition.get(index);
    if (known !== undefined) return known;
    let truthful: boolean;
    try {
      const at = await readPosition(device);
      truthful = at.beginning && at.logicalObject === 0;
    } catch (error) {
      // Refused, or an answer that contradicts itself: either way not to be relied on. A lost
      // connection shows on the next command.
      if (error instanceof LifeboatError && error.code === 'cancelled') throw error;
      truthful = false;
    }
    this.truthfulPosition.set(index, truthful);
    return truthful;
  }

  async unload(tapeDrive: TapeDrive): Promise<void> {
    const held = this.lent.get(tapeDrive.index);
    if (!held || held.drive !== tapeDrive || !(tapeDrive instanceof ScsiTapeDrive))
      throw new LifeboatError('conflict', `drive ${tapeDrive.index + 1} was not loaded by this engine`);
    const pending = await tapeDrive.release();
    try {
      await rewind(tapeDrive.device);
      // Most libraries take the cartridge only from a drive that has let go of it.
      await loadUnload(tapeDrive.device, false).catch((error: unknown) => {
        if (!isRefused(error)) throw error;
      });
      await this.robot(async () => {
        const elements = await this.elements();
        const here = elements.find(
          (element) => element.type === 'data-transfer' && element.address === this.found.drives[tapeDrive.index]?.element,
        );
        if (!here?.full) return;
        const slots = ofType(elements, 'storage');
        const home = slots.find((slot) => slot.address === here.sourceAddress && !slot.full) ?? slots.find((slot) => !slot.full);
        if (!home) throw new LifeboatError('conflict', `${this.name} has no free slot to return tape ${tapeDrive.barcode} to`);
        await this.move(here.address, home.address);
      });
    } finally {
      this.letGo(tapeDrive.index);
    }
    if (pending !== null) throw pending;
  }

  async exportTape(barcode: string): Promise<void> {
    await this.robot(async () => {
      const elements = await this.elements();
      const where = this.find(elements, barcode);
      if (where.type === 'import-export') return;
      if (where.type !== 'storage') {
        const place = where.type === 'data-transfer' ? `drive ${this.driveOf(where) + 1}` : "the robot's hand";
        throw new LifeboatError('conflict', `tape ${barcode} is in ${place}; it can leave once it is back in a slot`);
      }
      const mailslot = ofType(elements, 'import-export').find((element) => !element.full);
      if (!mailslot) throw new LifeboatError('conflict', `${this.name} has no empty mail slot to export tape ${barcode} through`);
      await this.move(where.address, mailslot.address);
    });
  }

  async importTape(barcode: string): Promise<void> {
    await this.robot(async () => {
      const elements = await this.elements();
      const where = elements.find((element) => element.type === 'import-export' && labelOf(element) === barcode);
      if (!where) throw new LifeboatError('not-found', `tape ${barcode} is not in a mail slot of ${this.name}`);
      const slot = ofType(elements, 'storage').find((element) => !element.full);
      if (!slot) throw new LifeboatError('conflict', `${this.name} has no free slot for tape ${barcode}; export a tape first`);
      await this.move(where.address, slot.address);
    });
  }

  /** Lets go of the drives (cartridges stay where they are) and of the transport. */
  async close(): Promise<void> {
    for (const [index, held] of [...this.lent]) {
      await held.drive?.release();
      this.letGo(index);
    }
    await this.options.close?.();
  }
}
