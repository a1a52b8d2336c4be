// What the engine needs of tape hardware, small enough that a Linux SCSI tape driver (st for
// the drive, sg + mtx for the changer) could implement it: a library with storage slots, drives
// and import/export (mail) slots; cartridges known by barcode; a drive that loads, rewinds,
// locates to a file and block, reads and writes fixed-size blocks and filemarks, and reports
// early warning near the end of the medium.

import { LifeboatError } from '../../errors.ts';

/** 'medium': the drive could not read a block (the host may go on past it); 'cut': the tape
 * ends inside a block; 'damaged': the tape's framing is wrong. */
export type TapeFault = 'medium' | 'cut' | 'damaged';

/** A block the drive could not read, whichever kind of drive: the tape pass treats both alike. */
export class TapeMediumError extends LifeboatError {
  /** Where on the tape: a byte offset in a SIMH image, a logical object number on a SCSI drive
   * (-1 when the drive's position was not known). */
  readonly position: number;
  readonly fault: TapeFault;
  /** Data length of the record at `position`, when its length words were readable. */
  readonly recordLength: number | null;
  constructor(message: string, position: number, fault: TapeFault, recordLength: number | null = null) {
    super('corrupt-backup', message);
    this.position = position;
    this.fault = fault;
    this.recordLength = recordLength;
  }
}

export type TapeLocation = { kind: 'slot' | 'drive' | 'mailslot'; index: number } | { kind: 'offline' };

export type Cartridge = {
  barcode: string;
  location: TapeLocation;
  writeProtected: boolean;
  capacityBytes: number;
};

export type DriveInfo = { index: number; barcode: string | null; owner: string | null };

/** Timings of the drive model (seconds at time scale 1) and its streaming rate. */
export type DriveModel = {
  name: string;
  loadSeconds: number;
  unloadSeconds: number;
  /** Rewind from the far end of a full tape; shorter rewinds take a share of it. */
  fullRewindSeconds: number;
  /** Seconds to stop, back up and restart when the host did not keep the drive streaming. */
  backhitchSeconds: number;
  /** Native streaming rate, bytes per second. */
  bytesPerSecond: number;
  /** Slowest speed the drive can match to the host before it must stop (speed matching). */
  minBytesPerSecond: number;
  bufferBytes: number;
};

export type LibraryInventory = {
  name: string;
  slots: (string | null)[];
  drives: DriveInfo[];
  mailslots: (string | null)[];
  cartridges: Cartridge[];
  model: DriveModel;
  /** Real seconds per modelled second (1 = real time; tests run faster). */
  timeScale: number;
  blockSize: number;
};

export type TapeRead = { kind: 'block'; data: Uint8Array } | { kind: 'filemark' } | { kind: 'end-of-data' };

export type DriveStats = {
  bytesRead: number;
  bytesWritten: number;
  /** Times the drive had to stop because the host did not keep up (shoe-shining on a real drive). */
  starvedEvents: number;
  locates: number;
  /** Modelled seconds spent streaming, locating and backhitching. */
  busySeconds: number;
};

export interface TapeDrive {
  readonly index: number;
  readonly barcode: string;
  readonly blockSize: number;
  /** Filemarks passed since the beginning of tape, and blocks since the last one. */
  position(): { file: number; block: number };
  rewind(signal?: AbortSignal): Promise<void>;
  locate(file: number, block: number, signal?: AbortSignal): Promise<void>;
  /** The next block (or filemark, or the end of data). A block's bytes may be the drive's own
   * memory: valid until the next read, locate or write. */
  read(signal?: AbortSignal): Promise<TapeRead>;
  /** Writes one block of exactly blockSize bytes; earlyWarning means: finish up, the end is near. */
  write(block: Uint8Array, signal?: AbortSignal): Promise<{ earlyWarning: boolean }>;
  writeFilemarks(count: number): Promise<void>;
  /** Tells the drive the host pauses on purpose (end of a pass): the pause is no starvation. */
  pause(): void;
  stats(): DriveStats;
}

export interface TapeLibrary {
  inventory(): Promise<LibraryInventory>;
  /** Moves a cartridge from its slot into a free drive, reserved for `owner` until unloaded. */
  load(barcode: string, owner: string, signal?: AbortSignal): Promise<TapeDrive>;
  /** Rewinds, ejects and returns the cartridge to the slot it came from. */
  unload(drive: TapeDrive): Promise<void>;
  /** Out through a mail slot: the cartridge is offline from then on. */
  exportTape(barcode: string): Promise<void>;
  /** In through a mail slot into a free storage slot. */
  importTape(barcode: string): Promise<void>;
}
