// MODE SENSE(6) / MODE SELECT(6) (SPC-4 6.13, 6.11): the parameter header, the optional block
// descriptor, and the pages after it. Tape drives keep their block size, density and compression
// here; media changers their element address assignment (page 1Dh).
import { LifeboatError } from '../../errors.ts';
import { cdb, hex, malformed } from './cdb.ts';
import type { ScsiDevice } from './scsi-device.ts';
import { run } from './scsi-error.ts';

export type ModeParameters = {
  mediumType: number;
  /** Byte 2 of the header; for tape: write protect (bit 7), buffered mode (bits 6-4), speed (3-0). */
  deviceSpecific: number;
  /** The first (usually only) 8-byte block descriptor, or null when none was sent. */
  blockDescriptor: Uint8Array | null;
  /** Each page by its code (subpages are skipped), the bytes including the page's own header. */
  pages: Map<number, Uint8Array>;
};

const WHAT = 'mode parameter data';

export function parseModeParameters6(bytes: Uint8Array): ModeParameters {
  if (bytes.length < 4) throw malformed(WHAT, `${bytes.length} bytes, fewer than the 4-byte header`);
  // The mode data length counts the bytes after itself; a truncated transfer ends earlier.
  const end = Math.min(bytes.length, 1 + bytes[0]!);
  const descriptorLength = bytes[3]!;
  if (4 + descriptorLength > end)
    throw malformed(WHAT, `the block descriptors (${descriptorLength} bytes) run past the data (${end} bytes)`);
  const blockDescriptor = descriptorLength >= 8 ? bytes.slice(4, 12) : null;
  const pages = new Map<number, Uint8Array>();
  for (let at = 4 + descriptorLength; at + 2 <= end;) {
    const subpageFormat = (bytes[at]! & 0x40) !== 0;
    const headerLength = subpageFormat ? 4 : 2;
    if (at + headerLength > end) break;
    const length = headerLength + (subpageFormat ? (bytes[at + 2]! << 8) | bytes[at + 3]! : bytes[at + 1]!);
    // A page cut short by the allocation length is left out: callers name the page they miss.
    if (at + length > end) break;
    if (!subpageFormat && !pages.has(bytes[at]! & 0x3f)) pages.set(bytes[at]! & 0x3f, bytes.slice(at, at + length));
    at += length;
  }
  return { mediumType: bytes[1]!, deviceSpecific: bytes[2]!, blockDescriptor, pages };
}

/** MODE SENSE(6) of the current values of one page (3Fh = all); `dbd` leaves out block descriptors. */
export async function modeSense6(device: ScsiDevice, page: number, options: { dbd: boolean }): Promise<ModeParameters> {
  const result = await run(
    device,
    `MODE SENSE (page ${hex(page)})`,
    {
      cdb: cdb(6, 0x1a, { 1: options.dbd ? 0x08 : 0, 2: page & 0x3f, 4: 0xff }),
      dataInLength: 0xff,
    },
    { retryUnitAttention: true },
  );
  return parseModeParameters6(result.data);
}

/** MODE SELECT(6) with the page format bit set; `parameters` is the whole list (header first). */
export async function modeSelect6(device: ScsiDevice, name: string, parameters: Uint8Array): Promise<void> {
  if (parameters.length > 0xff) throw new LifeboatError('internal', 'A MODE SELECT(6) parameter list is at most 255 bytes.');
  await run(device, `MODE SELECT (${name})`, { cdb: cdb(6, 0x15, { 1: 0x10, 4: parameters.length }), dataOut: parameters });
}

/** A page the device must have: the error names it when it is missing. */
export function requirePage(parameters: ModeParameters, page: number, device: ScsiDevice): Uint8Array {
  const bytes = parameters.pages.get(page);
  if (bytes === undefined) throw malformed(`mode page ${hex(page)} (${device.address})`, 'the device did not return it');
  return bytes;
}
