// Tape drive commands (SSC-4): reading and writing blocks and filemarks, positioning, and the
// drive's mode (block size, compression). Each call is one command (LOCATE and READ POSITION try
// the modern form first and remember a device that refuses it); the outcomes a tape pass expects —
// a filemark, the end of the data, early warning — are answers, everything else is a ScsiError.
import { LifeboatError } from '../../errors.ts';
import { cdb, fitsField, malformed, readUnsigned, writeSigned, writeUnsigned } from './cdb.ts';
import { modeSelect6, modeSense6, requirePage, type ModeParameters } from './mode.ts';
import type { ScsiCommand, ScsiDevice, ScsiResult } from './scsi-device.ts';
import { ScsiStatus } from './scsi-device.ts';
import { attempt, run, ScsiError, scsiError, senseOf, succeeded } from './scsi-error.ts';
import { isSense, SenseKey, type SenseData } from './sense.ts';

export type TapeReadResult = { kind: 'block'; data: Uint8Array } | { kind: 'filemark' } | { kind: 'end-of-data' };

// Positioning over a whole cartridge takes minutes (LTO: up to ~3 min to locate, ~2 to rewind);
// a load threads the tape and may calibrate. These bound a command that has gone silent.
const POSITIONING_TIMEOUT_MS = 20 * 60_000;
const TRANSFER_TIMEOUT_MS = 5 * 60_000;

const COMPRESSION_PAGE = 0x0f;
const ALL_PAGES = 0x3f;

export type TapeLimits = { minBlock: number; maxBlock: number; granularity: number };

export function parseBlockLimits(bytes: Uint8Array): TapeLimits {
  const what = 'READ BLOCK LIMITS data';
  if (bytes.length < 6) throw malformed(what, `${bytes.length} bytes, fewer than 6`);
  return { granularity: bytes[0]! & 0x1f, maxBlock: readUnsigned(bytes, 1, 3, what), minBlock: readUnsigned(bytes, 4, 2, what) };
}

export async function readBlockLimits(device: ScsiDevice): Promise<TapeLimits> {
  const result = await run(device, 'READ BLOCK LIMITS', { cdb: cdb(6, 0x05), dataInLength: 6 }, { retryUnitAttention: true });
  return parseBlockLimits(result.data);
}

export type TapeMode = {
  writeProtected: boolean;
  blockSize: number;
  densityCode: number;
  bufferedMode: number;
  compression: boolean | null;
};

export function parseTapeMode(parameters: ModeParameters): TapeMode {
  const descriptor = parameters.blockDescriptor;
  const page = parameters.pages.get(COMPRESSION_PAGE);
  // DCC (byte 2 bit 6): the drive can compress; DCE (bit 7): it does.
  const capable = page !== undefined && page.length >= 3 && (page[2]! & 0x40) !== 0;
  return {
    writeProtected: (parameters.deviceSpecific & 0x80) !== 0,
    bufferedMode: (parameters.deviceSpecific >> 4) & 0x07,
    densityCode: descriptor?.[0] ?? 0,
    blockSize: descriptor === null ? 0 : readUnsigned(descriptor, 5, 3, 'block descriptor'),
    compression: capable ? (page[2]! & 0x80) !== 0 : null,
  };
}

async function tapeModeParameters(device: ScsiDevice): Promise<ModeParameters> {
  try {
    return await modeSense6(device, COMPRESSION_PAGE, { dbd: false });
  } catch (error) {
    // A drive without the compression page still has the header and block descriptor.
    if (!(error instanceof ScsiError) || error.sense?.senseKey !== SenseKey.illegalRequest) throw error;
    return modeSense6(device, ALL_PAGES, { dbd: false });
  }
}

export async function modeSenseTape(device: ScsiDevice): Promise<TapeMode> {
  return parseTapeMode(await tapeModeParameters(device));
}

/** Fixed blocks of `blockSize` bytes, or 0 for variable blocks; density and buffering are kept. */
export async function setBlockSize(device: ScsiDevice, blockSize: number): Promise<void> {
  const current = await tapeModeParameters(device);
  const parameters = new Uint8Array(12);
  // Header: mode data length and medium type are reserved in MODE SELECT; write protect is not ours to set.
  parameters[2] = current.deviceSpecific & 0x7f;
  parameters[3] = 8;
  parameters[4] = current.blockDescriptor?.[0] ?? 0;
  writeUnsigned(parameters, 9, 3, blockSize, 'block size');
  await modeSelect6(device, 'block size', parameters);
}

/** Turns the drive's compression on or off (page 0Fh, DCE). A drive that says it cannot compress
 * (DCC 0) is refused before any MODE SELECT; asking it for "off" is already true. */
export async function setCompression(device: ScsiDevice, on: boolean): Promise<void> {
  const current = await modeSense6(device, COMPRESSION_PAGE, { dbd: true });
  const page = requirePage(current, COMPRESSION_PAGE, device).slice();
  if (page.length < 4) throw malformed(`data compression page (${device.address})`, `${page.length} bytes`);
  const capable = (page[2]! & 0x40) !== 0;
  const enabled = (page[2]! & 0x80) !== 0;
  if (enabled === on) return;
  if (!capable) throw new LifeboatError('bad-request', `${device.address} cannot compress (its data compression page says so).`);
  page[0] = page[0]! & 0x3f; // PS is reserved in MODE SELECT
  page[2] = on ? page[2]! | 0x80 : page[2]! & 0x7f;
  const parameters = new Uint8Array(4 + page.length);
  parameters[2] = current.deviceSpecific & 0x7f;
  parameters.set(page, 4);
  await modeSelect6(device, on ? 'compression on' : 'compression off', parameters);
}

type TransferOptions = { fixed?: boolean; signal?: AbortSignal };

/** READ(6) or WRITE(6) of one block: variable (length in bytes) or fixed (one block). */
function transferCdb(opcode: number, length: number, fixed: boolean): Uint8Array {
  const bytes = cdb(6, opcode, { 1: fixed ? 0x01 : 0x00 });
  writeUnsigned(bytes, 2, 3, fixed ? 1 : length, 'transfer length');
  return bytes;
}

/** Reads the next block. A filemark and the end of the recorded data are answers; a block of
 * another length than asked comes back at its real length (a longer one is an error: the drive
 * has moved past it and its tail is lost). */
export async function readBlock(device: ScsiDevice, maxLength: number, options: TransferOptions = {}): Promise<TapeReadResult> {
  const fixed = options.fixed ?? false;
  const result = await device.execute({
    cdb: transferCdb(0x08, maxLength, fixed),
    dataInLength: maxLength,
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal: options.signal,
  });
  if (result.status === ScsiStatus.good) return { kind: 'block', data: result.data };
  const sense = senseOf(result);
  if (sense === null) throw scsiError(device, 'READ', result);
  if (sense.senseKey === SenseKey.blankCheck || isSense(sense, SenseKey.noSense, 0x00, 0x05)) return { kind: 'end-of-data' };
  if (sense.filemark && (sense.senseKey === SenseKey.noSense || sense.senseKey === SenseKey.recoveredError)) return { kind: 'filemark' };
  if (
    sense.incorrectLength &&
    !fixed &&
    sense.information !== null &&
    (sense.senseKey === SenseKey.noSense || sense.senseKey === SenseKey.recoveredError)
  ) {
    return shortBlock(device, result, sense, maxLength, options.signal);
  }
  if (succeeded(result)) return { kind: 'block', data: result.data };
  throw scsiError(device, 'READ', result);
}

async function shortBlock(
  device: ScsiDevice,
  result: ScsiResult,
  sense: SenseData,
  maxLength: number,
  signal: AbortSignal | undefined,
): Promise<TapeReadResult> {
  const residual = sense.information ?? 0;
  if (residual < 0) {
    throw new ScsiError(
      'corrupt-backup',
      `${device.address}: READ failed: the block on tape is ${maxLength - residual} bytes, longer than the ${maxLength} asked`,
      { sense, status: result.status, device: device.address, command: 'READ' },
    );
  }
  const actual = Math.max(0, maxLength - residual);
  if (result.data.length >= actual) return { kind: 'block', data: result.data.subarray(0, actual) };
  // tgt 1.0.85 transfers (asked − block) bytes on such a read, not the block: a block over half
  // the asked length would come back cut short. Go back over it and read it at its own length.
  await space(device, 'blocks', -1);
  const again = await device.execute({
    cdb: transferCdb(0x08, actual, false),
    dataInLength: actual,
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal,
  });
  if (again.status !== ScsiStatus.good) throw scsiError(device, "READ (again, at the block's length)", again);
  if (again.data.length !== actual) {
    throw new LifeboatError('unavailable', `${device.address}: READ returned ${again.data.length} bytes of a ${actual}-byte block, twice.`);
  }
  return { kind: 'block', data: again.data };
}

/** Early warning: the write was done, but the end of the tape is near (NO SENSE or RECOVERED
 * ERROR with EOM set, or programmable early warning 00h/07h). */
function earlyWarningOrThrow(device: ScsiDevice, name: string, result: ScsiResult): { earlyWarning: boolean } {
  if (result.status === ScsiStatus.good) return { earlyWarning: false };
  const sense = senseOf(result);
  const keyOk = sense !== null && !sense.deferred && (sense.senseKey === SenseKey.noSense || sense.senseKey === SenseKey.recoveredError);
  if (keyOk && (sense.endOfMedium || (sense.asc === 0x00 && sense.ascq === 0x07))) return { earlyWarning: true };
  if (keyOk && sense.senseKey === SenseKey.recoveredError) return { earlyWarning: false };
  throw scsiError(device, name, result);
}

export async function writeBlock(device: ScsiDevice, data: Uint8Array, options: TransferOptions = {}): Promise<{ earlyWarning: boolean }> {
  const result = await device.execute({
    cdb: transferCdb(0x0a, data.length, options.fixed ?? false),
    dataOut: data,
    timeoutMs: TRANSFER_TIMEOUT_MS,
    signal: options.signal,
  });
  return earlyWarningOrThrow(device, 'WRITE', result);
}

/** WRITE FILEMARKS(6); a count of 0 only makes the drive write its buffer to tape. */
export async function writeFilemarks(device: ScsiDevice, count: number): Promise<{ earlyWarning: boolean }> {
  const bytes = cdb(6, 0x10);
  writeUnsigned(bytes, 2, 3, count, 'filemark count');
  const result = await device.execute({ cdb: bytes, timeoutMs: POSITIONING_TIMEOUT_MS });
  return earlyWarningOrThrow(device, 'WRITE FILEMARKS', result);
}

const spaceCodes = { blocks: 0, filemarks: 1, 'end-of-data': 3 } as const;

/** SPACE over `count` blocks or filemarks (negative: backwards), or to the end of the data. A
 * space that stops early — at a filemark, the end of the data, the beginning of the tape — is a
 * ScsiError of code 'not-found' whose sense says where it stopped (FM, EOM, 00h/05h, 00h/04h)
 * and how much was left (INFORMATION). */
export async function space(device: ScsiDevice, what: 'blocks' | 'filemarks' | 'end-of-data', count: number): Promise<void> {
  const amount = what === 'end-of-data' ? 0 : count;
  let bytes: Uint8Array;
  if (fitsField(amount, 3, true)) {
    bytes = cdb(6, 0x11, { 1: spaceCodes[what] });
    writeSigned(bytes, 2, 3, amount, 'space count');
  } else {
    bytes = cdb(16, 0x91, { 1: spaceCodes[what] });
    writeSigned(bytes, 4, 8, amount, 'space count');
  }
  const name = `SPACE (${amount === 0 ? what : `${amount} ${what}`})`;
  const result = await device.execute({ cdb: bytes, timeoutMs: POSITIONING_TIMEOUT_MS });
  if (succeeded(result)) return;
  const error = scsiError(device, name, result);
  const key = error.sense?.senseKey;
  if (key !== SenseKey.noSense && key !== SenseKey.blankCheck) throw error;
  throw new ScsiError('not-found', error.message, error);
}

// Devices that refused LOCATE(16) / the long READ POSITION (invalid operation code or field).
const noLocate16 = new WeakSet<ScsiDevice>();
const noLongPosition = new WeakSet<ScsiDevice>();

function refusedOpcodeOrField(result: ScsiResult): boolean {
  const sense = senseOf(result);
  return sense !== null && sense.senseKey === SenseKey.illegalRequest && (sense.asc === 0x20 || sense.asc === 0x24);
}

/** LOCATE to a logical object (block number counting filemarks) in the current partition. */
export async function locate(device: ScsiDevice, logicalObject: number): Promise<void> {
  if (!noLocate16.has(device)) {
    const bytes = cdb(16, 0x92);
    writeUnsigned(bytes, 4, 8, logicalObject, 'logical object');
    const command: ScsiCommand = { cdb: bytes, timeoutMs: POSITIONING_TIMEOUT_MS };
    const result = await device.execute(command);
    if (succeeded(result)) return;
    if (!refusedOpcodeOrField(result) || !fitsField(logicalObject, 4, false)) throw scsiError(device, 'LOCATE(16)', result);
    noLocate16.add(device);
  }
  const bytes = cdb(10, 0x2b);
  writeUnsigned(bytes, 3, 4, logicalObject, 'logical object');
  await run(device, 'LOCATE(10)', { cdb: bytes, timeoutMs: POSITIONING_TIMEOUT_MS });
}

export type TapePosition = { beginning: boolean; end: boolean; logicalObject: number; file: number | null; partition: number };

function positionUnknown(what: string): LifeboatError {
  return new LifeboatError(
    'unavailable',
    `The tape drive does not know its ${what} (it may have lost it after an error); rewind and try again.`,
  );
}

/** READ POSITION long form (service action 06h, 32 bytes). */
export function parseLongPosition(bytes: Uint8Array): TapePosition {
  const what = 'READ POSITION (long form) data';
  if (bytes.length < 32) throw malformed(what, `${bytes.length} bytes, fewer than 32`);
  const flags = bytes[0]!;
  if ((flags & 0x04) !== 0) throw positionUnknown('position'); // LONU
  const position = {
    beginning: (flags & 0x80) !== 0,
    end: (flags & 0x40) !== 0,
    partition: readUnsigned(bytes, 4, 4, what),
    logicalObject: readUnsigned(bytes, 8, 8, what),
    file: (flags & 0x08) !== 0 ? null : readUnsigned(bytes, 16, 8, what), // MPU: file number unknown
  };
  // Object 0 is the beginning of the partition. tgt 1.0.85 answers zeros wherever the tape is
  // (and no BOP): a position that contradicts itself is not one.
  if (position.logicalObject === 0 && !position.beginning) throw positionUnknown('position (it reports object 0 away from the beginning)');
  return position;
}

/** READ POSITION short form (service action 00h, 20 bytes): no file number. */
export function parseShortPosition(bytes: Uint8Array): TapePosition {
  const what = 'READ POSITION (short form) data';
  if (bytes.length < 20) throw malformed(what, `${bytes.length} bytes, fewer than 20`);
  const flags = bytes[0]!;
  if ((flags & 0x04) !== 0) throw positionUnknown('position'); // BPU
  return {
    beginning: (flags & 0x80) !== 0,
    end: (flags & 0x40) !== 0,
    partition: bytes[1]!,
    logicalObject: readUnsigned(bytes, 4, 4, what),
    file: null,
  };
}

export async function readPosition(device: ScsiDevice): Promise<TapePosition> {
  if (!noLongPosition.has(device)) {
    const result = await attempt(device, { cdb: cdb(10, 0x34, { 1: 0x06, 8: 32 }), dataInLength: 32 }, { retryUnitAttention: true });
    if (succeeded(result)) return parseLongPosition(result.data);
    if (!refusedOpcodeOrField(result)) throw scsiError(device, 'READ POSITION (long form)', result);
    noLongPosition.add(device);
  }
  const result = await run(device, 'READ POSITION', { cdb: cdb(10, 0x34), dataInLength: 20 }, { retryUnitAttention: true });
  return parseShortPosition(result.data);
}

export async function rewind(device: ScsiDevice, signal?: AbortSignal): Promise<void> {
  await run(device, 'REWIND', { cdb: cdb(6, 0x01), timeoutMs: POSITIONING_TIMEOUT_MS, signal }, { retryUnitAttention: true });
}

/** LOAD (thread the tape, ready it at the beginning) or UNLOAD (rewind and eject for the changer). */
export async function loadUnload(device: ScsiDevice, load: boolean): Promise<void> {
  await run(
    device,
    load ? 'LOAD' : 'UNLOAD',
    { cdb: cdb(6, 0x1b, { 4: load ? 0x01 : 0x00 }), timeoutMs: POSITIONING_TIMEOUT_MS },
    { retryUnitAttention: true },
  );
}

/** PREVENT ALLOW MEDIUM REMOVAL: while prevented, the drive will not eject the cartridge. */
export async function preventRemoval(device: ScsiDevice, prevent: boolean): Promise<void> {
  await run(
    device,
    prevent ? 'PREVENT MEDIUM REMOVAL' : 'ALLOW MEDIUM REMOVAL',
    { cdb: cdb(6, 0x1e, { 4: prevent ? 0x01 : 0x00 }) },
    { retryUnitAttention: true },
  );
}
