// The built-in tape library: cartridges are SIMH images in the home, the changer is a state
// file shared safely between processes, and every move takes the modelled robot and drive time.
import { copyFile, mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../../errors.ts';
import { badRecordWord, fileImageReader, readObject } from './simh-tap.ts';
import { isAlive, LibraryStateFile, LTO9, type LibraryState } from './library-state.ts';
import type { Cartridge, DriveModel, LibraryInventory, TapeDrive, TapeLibrary, TapeLocation } from './tape-driver.ts';
import { sleep, VirtualTapeDrive } from './virtual-drive.ts';

export type CreateLibraryOptions = {
  name?: string;
  slots: number;
  drives: number;
  mailslots: number;
  /** Blank cartridges put in the first slots. */
  tapes: number;
  capacityBytes: number;
  blockSize?: number;
  timeScale?: number;
  model?: Partial<DriveModel>;
  barcodePrefix?: string;
};

export const DEFAULT_TAPE_BLOCK = 256 * 1024;
const barcodePattern = /^[A-Z0-9]{1,16}$/;

function locate(state: LibraryState, barcode: string): TapeLocation {
  const slot = state.slots.indexOf(barcode);
  if (slot >= 0) return { kind: 'slot', index: slot };
  const drive = state.drives.findIndex((entry) => entry.barcode === barcode);
  if (drive >= 0) return { kind: 'drive', index: drive };
  const mailslot = state.mailslots.indexOf(barcode);
  if (mailslot >= 0) return { kind: 'mailslot', index: mailslot };
  return { kind: 'offline' };
}

function describe(location: TapeLocation): string {
  return location.kind === 'offline' ? 'offline' : `${location.kind} ${location.index + 1}`;
}

export class VirtualTapeLibrary implements TapeLibrary {
  readonly folder: string;
  private readonly file: LibraryStateFile;
  /** Drives this process has loaded, to release them and to refuse a double use. */
  private readonly loaded = new Map<number, VirtualTapeDrive>();

  private constructor(folder: string) {
    this.folder = folder;
    this.file = new LibraryStateFile(folder);
  }

  static async open(folder: string): Promise<VirtualTapeLibrary> {
    const library = new VirtualTapeLibrary(folder);
    await library.file.read();
    return library;
  }

  static async exists(folder: string): Promise<boolean> {
    try {
      await stat(join(folder, 'library.json'));
      return true;
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return false;
      throw error;
    }
  }

  static async create(folder: string, options: CreateLibraryOptions): Promise<VirtualTapeLibrary> {
    if (await VirtualTapeLibrary.exists(folder)) throw new LifeboatError('conflict', `a tape library already exists at ${folder}`);
    const counts = [options.slots, options.drives, options.mailslots, options.tapes];
    // No slots: standalone drives, loaded by hand (a tape is imported into a free drive).
    if (counts.some((count) => !Number.isInteger(count) || count < 0 || count > 10_000) || options.drives < 1) {
      throw new LifeboatError('bad-request', 'a library needs at least 1 drive (at most 10,000 of drives, slots and tapes)');
    }
    if (options.tapes > options.slots)
      throw new LifeboatError('bad-request', `${options.tapes} tapes do not fit in ${options.slots} slots`);
    const blockSize = options.blockSize ?? DEFAULT_TAPE_BLOCK;
    if (options.capacityBytes < blockSize * 64)
      throw new LifeboatError('bad-request', `a tape must hold at least 64 blocks (${blockSize * 64} bytes)`);
    await mkdir(join(folder, 'media'), { recursive: true });
    const prefix = options.barcodePrefix ?? 'LB';
    const barcodes = Array.from({ length: options.tapes }, (_, i) => `${prefix}${String(i + 1).padStart(4, '0')}L9`);
    const state: LibraryState = {
      format: 'lifeboat-virtual-library',
      version: 1,
      name: options.name ?? 'Virtual library',
      blockSize,
      timeScale: options.timeScale ?? 1,
      model: { ...LTO9, ...options.model },
      slots: Array.from({ length: options.slots }, (_, i) => barcodes[i] ?? null),
      drives: Array.from({ length: options.drives }, () => ({ barcode: null, homeSlot: null, owner: null })),
      mailslots: Array.from({ length: options.mailslots }, () => null),
      cartridges: Object.fromEntries(barcodes.map((barcode) => [barcode, { writeProtected: false, capacityBytes: options.capacityBytes }])),
      faults: { busyDrives: [], swapped: {} },
    };
    for (const barcode of barcodes) await (await open(join(folder, 'media', `${barcode}.tap`), 'w')).close();
    await new LibraryStateFile(folder).write(state);
    return new VirtualTapeLibrary(folder);
  }

  imagePath(barcode: string): string {
    return join(this.folder, 'media', `${barcode}.tap`);
  }

  async inventory(): Promise<LibraryInventory> {
    const state = await this.file.read();
    const cartridges: Cartridge[] = Object.entries(state.cartridges)
      .map(([barcode, info]) => ({ barcode, location: locate(state, barcode), ...info }))
      .sort((a, b) => a.barcode.localeCompare(b.barcode));
    return {
      name: state.name,
      slots: state.slots,
      drives: state.drives.map((drive, index) => ({
        index,
        barcode: drive.barcode,
        owner: drive.owner && isAlive(drive.owner.pid) ? drive.owner.who : null,
      })),
      mailslots: state.mailslots,
      cartridges,
      model: state.model,
      timeScale: state.timeScale,
      blockSize: state.blockSize,
    };
  }

  private modelled(state: LibraryState, seconds: number, signal?: AbortSignal): Promise<void> {
    return sleep(seconds * state.timeScale * 1000, signal);
  }

  async load(barcode: string, owner: string, signal?: AbortSignal): Promise<TapeDrive> {
    const claimed = await this.file.update((state) => {
      const cartridge = state.cartridges[barcode];
      if (!cartridge) throw new LifeboatError('not-found', `the library knows no tape ${barcode}`);
      const location = locate(state, barcode);
      if (location.kind === 'offline') throw new LifeboatError('unavailable', `tape ${barcode} is offline; import it through a mail slot`);
      if (location.kind === 'mailslot')
        throw new LifeboatError('unavailable', `tape ${barcode} is in mail slot ${location.index + 1}; import it first`);
      const free = (index: number): boolean => {
        const drive = state.drives[index];
        const taken = drive?.owner && isAlive(drive.owner.pid) && !(drive.owner.pid === process.pid && !this.loaded.has(index));
        return !!drive && !taken && !state.faults.busyDrives.includes(index);
      };
      let index: number;
      if (location.kind === 'drive') {
        // Left in a drive by a process that is gone: take it over where it stands.
        if (!free(location.index))
          throw new LifeboatError(
            'unavailable',
            `drive ${location.index + 1} is busy with tape ${barcode} for ${state.drives[location.index]?.owner?.who ?? 'another job'}`,
          );
        index = location.index;
      } else {
        index = state.drives.findIndex((drive, i) => drive.barcode === null && free(i));
        if (index < 0) throw new LifeboatError('unavailable', `all ${state.drives.length} drive(s) of ${state.name} are busy`);
        state.slots[location.index] = null;
        const drive = state.drives[index] as LibraryState['drives'][number];
        drive.barcode = barcode;
        drive.homeSlot = location.index;
      }
      (state.drives[index] as LibraryState['drives'][number]).owner = { pid: process.pid, who: owner };
      return { index, cartridge, media: state.faults.swapped[barcode] ?? barcode, alreadyLoaded: location.kind === 'drive', state };
    });
    try {
      if (!claimed.alreadyLoaded) await this.modelled(claimed.state, claimed.state.model.loadSeconds, signal);
      const image = await open(this.imagePath(claimed.media), claimed.cartridge.writeProtected ? 'r' : 'r+');
      const drive = new VirtualTapeDrive({
        index: claimed.index,
        barcode,
        image,
        blockSize: claimed.state.blockSize,
        capacityBytes: claimed.cartridge.capacityBytes,
        writeProtected: claimed.cartridge.writeProtected,
        model: claimed.state.model,
        timeScale: claimed.state.timeScale,
      });
      this.loaded.set(claimed.index, drive);
      return drive;
    } catch (error) {
      await this.file.update((state) => {
        const drive = state.drives[claimed.index];
        if (drive) drive.owner = null;
      });
      throw error;
    }
  }

  async unload(tapeDrive: TapeDrive): Promise<void> {
    const drive = this.loaded.get(tapeDrive.index);
    if (!drive || drive !== tapeDrive) throw new LifeboatError('conflict', `drive ${tapeDrive.index + 1} was not loaded by this engine`);
    const state = await this.file.read();
    const seconds =
      state.model.fullRewindSeconds * Math.min(1, drive.headPosition() / Math.max(1, state.cartridges[drive.barcode]?.capacityBytes ?? 1)) +
      state.model.unloadSeconds;
    this.loaded.delete(drive.index);
    try {
      await this.modelled(state, seconds);
    } finally {
      await drive.close().catch(() => undefined);
      await this.file.update((current) => {
        const entry = current.drives[drive.index];
        if (!entry || entry.barcode !== drive.barcode) return;
        entry.owner = null;
        // A standalone drive ejects the tape into the operator's hand: it stays there until taken.
        if (current.slots.length === 0) return;
        const home = entry.homeSlot !== null && current.slots[entry.homeSlot] === null ? entry.homeSlot : current.slots.indexOf(null);
        if (home < 0) throw new LifeboatError('conflict', `no free slot to return tape ${drive.barcode} to`);
        current.slots[home] = drive.barcode;
        entry.barcode = null;
        entry.homeSlot = null;
        entry.owner = null;
      });
    }
  }

  async exportTape(barcode: string): Promise<void> {
    const seconds = await this.file.update((state) => {
      if (!state.cartridges[barcode]) throw new LifeboatError('not-found', `the library knows no tape ${barcode}`);
      const location = locate(state, barcode);
      if (location.kind === 'offline') throw new LifeboatError('conflict', `tape ${barcode} is already offline`);
      if (location.kind === 'drive') {
        const owner = state.drives[location.index]?.owner;
        if (state.slots.length > 0 || (owner && isAlive(owner.pid)))
          throw new LifeboatError('conflict', `tape ${barcode} is in drive ${location.index + 1}; it can leave once it is unloaded`);
        (state.drives[location.index] as LibraryState['drives'][number]).barcode = null;
        return 0;
      }
      if (location.kind === 'slot') {
        if (state.mailslots.length === 0) throw new LifeboatError('unavailable', `${state.name} has no mail slot to export through`);
        state.slots[location.index] = null;
      } else state.mailslots[location.index] = null;
      // Through the mail slot and into the operator's hands: offline.
      return state.model.loadSeconds / 4;
    });
    await this.modelled(await this.file.read(), seconds);
  }

  async importTape(barcode: string): Promise<void> {
    const seconds = await this.file.update((state) => {
      if (!state.cartridges[barcode])
        throw new LifeboatError(
          'not-found',
          `the library knows no tape ${barcode}; add its image first (\`tape import ${barcode} --image FILE\`)`,
        );
      const location = locate(state, barcode);
      if (location.kind !== 'offline')
        throw new LifeboatError('conflict', `tape ${barcode} is already in the library (${describe(location)})`);
      if (state.slots.length === 0) {
        const drive = state.drives.find((entry, index) => entry.barcode === null && !state.faults.busyDrives.includes(index));
        if (!drive) throw new LifeboatError('unavailable', `every drive of ${state.name} holds a tape; eject one first`);
        drive.barcode = barcode;
        return 0;
      }
      if (state.mailslots.length === 0) throw new LifeboatError('unavailable', `${state.name} has no mail slot to import through`);
      if (!state.mailslots.includes(null)) throw new LifeboatError('unavailable', `every mail slot of ${state.name} is full`);
      const slot = state.slots.indexOf(null);
      if (slot < 0) throw new LifeboatError('unavailable', `${state.name} has no free slot for tape ${barcode}; export a tape first`);
      state.slots[slot] = barcode;
      return state.model.loadSeconds / 4;
    });
    await this.modelled(await this.file.read(), seconds);
  }

  /** Puts a cartridge on the shelf (offline): blank, or a copy of a tape image from elsewhere. */
  async addCartridge(barcode: string, options: { image?: string; capacityBytes?: number; writeProtected?: boolean }): Promise<void> {
    if (!barcodePattern.test(barcode))
      throw new LifeboatError('bad-request', `barcode "${barcode}" should be 1 to 16 capital letters and digits`);
    const state = await this.file.read();
    if (state.cartridges[barcode]) throw new LifeboatError('conflict', `the library already knows tape ${barcode}`);
    const target = this.imagePath(barcode);
    if (options.image) {
      const head = await open(options.image, 'r');
      try {
        // Refuse what is not a tape image before it is on the shelf.
        await readObject(fileImageReader(head), 0, { label: options.image });
      } finally {
        await head.close();
      }
      await copyFile(options.image, target);
    } else await (await open(target, 'wx')).close();
    const capacityBytes =
      options.capacityBytes ??
      Math.max(
        ...Object.values(state.cartridges).map((cartridge) => cartridge.capacityBytes),
        (await stat(target)).size * 2,
        state.blockSize * 64,
      );
    await this.file.update((current) => {
      current.cartridges[barcode] = { writeProtected: options.writeProtected ?? false, capacityBytes };
    });
  }

  async setWriteProtected(barcode: string, writeProtected: boolean): Promise<void> {
    await this.file.update((state) => {
      const cartridge = state.cartridges[barcode];
      if (!cartridge) throw new LifeboatError('not-found', `the library knows no tape ${barcode}`);
      if (locate(state, barcode).kind === 'drive')
        throw new LifeboatError('conflict', `tape ${barcode} is in a drive; the tab is set outside`);
      cartridge.writeProtected = writeProtected;
    });
  }

  /** Fault drills: drives that report busy, and cartridges the robot mistakes for others. */
  async setFaults(faults: { busyDrives?: number[]; swapped?: Record<string, string> }): Promise<void> {
    await this.file.update((state) => {
      if (faults.busyDrives) state.faults.busyDrives = faults.busyDrives;
      if (faults.swapped) state.faults.swapped = faults.swapped;
    });
  }

  /** Fault drill: the block at `file`/`block` of a tape becomes unreadable (a medium error). */
  async damageBlock(barcode: string, file: number, block: number): Promise<void> {
    const image = await open(this.imagePath(barcode), 'r+');
    try {
      const read = fileImageReader(image);
      let position = 0;
      let currentFile = 0;
      let currentBlock = 0;
      for (let guard = 0; guard < 10_000_000; guard++) {
        const object = await readObject(read, position, { skipData: true, label: barcode });
        if (object.kind === 'end') break;
        if (object.kind === 'record' && currentFile === file && currentBlock === block) {
          const word = Buffer.alloc(4);
          word.writeUInt32LE(badRecordWord(object.dataLength ?? 0), 0);
          await image.write(word, 0, 4, position);
          await image.write(word, 0, 4, object.next - 4);
          return;
        }
        if (object.kind === 'mark') {
          currentFile++;
          currentBlock = 0;
        } else if (object.kind === 'record') currentBlock++;
        position = object.next;
      }
      throw new LifeboatError('not-found', `tape ${barcode} has no block ${block} in file ${file}`);
    } finally {
      await image.close();
    }
  }
}
