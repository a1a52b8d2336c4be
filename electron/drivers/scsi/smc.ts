// Media changer commands (SMC-3): where the elements are (page 1Dh), what each holds (READ
// ELEMENT STATUS with volume tags and, for drives, their identifiers), and moving a cartridge.
import { ascii, cdb, malformed, readUnsigned, writeUnsigned } from './cdb.ts';
import { modeSense6, requirePage } from './mode.ts';
import type { ScsiDevice, ScsiResult } from './scsi-device.ts';
import { attempt, run, scsiError, senseOf, succeeded } from './scsi-error.ts';
import { SenseKey } from './sense.ts';

export type ElementType = 'transport' | 'storage' | 'import-export' | 'data-transfer';
export type ElementAddresses = Record<ElementType, { first: number; count: number }>;
export type ElementStatus = {
  type: ElementType;
  address: number;
  full: boolean;
  /** The primary volume tag (the cartridge's barcode label), trimmed; null when none is read. */
  barcode: string | null;
  /** The element the cartridge came from, when the changer remembers it. */
  sourceAddress: number | null;
  exception: { asc: number; ascq: number } | null;
  accessible: boolean;
  /** The drive's device identifier (DVCID), data-transfer elements only: usually its serial. */
  identifier: string | null;
};

const typeCodes: Record<ElementType, number> = { transport: 1, storage: 2, 'import-export': 3, 'data-transfer': 4 };
const typeOfCode = new Map<number, ElementType>(Object.entries(typeCodes).map(([type, code]) => [code, type as ElementType]));

// Moves and inventories of a large library take minutes (a full barcode scan more).
const MOVE_TIMEOUT_MS = 10 * 60_000;
const INVENTORY_TIMEOUT_MS = 60 * 60_000;

const PAGE = 'element address assignment page';

export function parseElementAddresses(page: Uint8Array): ElementAddresses {
  if (page.length < 18) throw malformed(PAGE, `${page.length} bytes, fewer than 18`);
  const pair = (at: number) => ({ first: readUnsigned(page, at, 2, PAGE), count: readUnsigned(page, at + 2, 2, PAGE) });
  return { transport: pair(2), storage: pair(6), 'import-export': pair(10), 'data-transfer': pair(14) };
}

/** MODE SENSE page 1Dh: the first address and number of elements of each type. */
export async function elementAddresses(device: ScsiDevice): Promise<ElementAddresses> {
  const parameters = await modeSense6(device, 0x1d, { dbd: true });
  return parseElementAddresses(requirePage(parameters, 0x1d, device));
}

const STATUS = 'element status data';

function identifierText(bytes: Uint8Array, codeSet: number): string | null {
  if (bytes.length === 0) return null;
  // Code set 2 is ASCII, 3 UTF-8; anything else (1 = binary) is shown as hex.
  if (codeSet === 2 || codeSet === 3) return ascii(bytes, 0, bytes.length) || null;
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** One element descriptor; `tags` says which 36-byte volume tags precede the identifier. The
 * bytes may be cut short (tgt 1.0.85 sends each page's last descriptor 8 bytes short): a field
 * that is not all there is reported as absent, never guessed. */
function parseDescriptor(type: ElementType, bytes: Uint8Array, tags: { primary: boolean; alternate: boolean }): ElementStatus {
  const flags = bytes[2]!;
  const tag = tags.primary && bytes.length >= 44 ? ascii(bytes, 12, 44) : '';
  let identifier: string | null = null;
  const at = 12 + (tags.primary ? 36 : 0) + (tags.alternate ? 36 : 0);
  if (type === 'data-transfer' && at + 4 <= bytes.length && at + 4 + bytes[at + 3]! <= bytes.length) {
    identifier = identifierText(bytes.subarray(at + 4, at + 4 + bytes[at + 3]!), bytes[at]! & 0x0f);
  }
  return {
    type,
    address: readUnsigned(bytes, 0, 2, STATUS),
    full: (flags & 0x01) !== 0,
    barcode: tag === '' ? null : tag,
    sourceAddress: (bytes[9]! & 0x80) !== 0 ? readUnsigned(bytes, 10, 2, STATUS) : null,
    exception: (flags & 0x04) !== 0 ? { asc: bytes[4]!, ascq: bytes[5]! } : null,
    // The transport element has no ACCESS bit: the changer always reaches its own picker.
    accessible: type === 'transport' || (flags & 0x08) !== 0,
    identifier,
  };
}

// The fixed part of every element descriptor: address, flags, ASC/ASCQ, source address.
const DESCRIPTOR_MINIMUM = 12;

/** The element status pages of a READ ELEMENT STATUS answer (as many as the bytes hold). */
export function parseElementStatus(bytes: Uint8Array): ElementStatus[] {
  if (bytes.length < 8) throw malformed(STATUS, `${bytes.length} bytes, fewer than the 8-byte header`);
  const end = Math.min(bytes.length, 8 + readUnsigned(bytes, 5, 3, STATUS));
  const elements: ElementStatus[] = [];
  for (let at = 8; at + 8 <= end;) {
    const type = typeOfCode.get(bytes[at]! & 0x0f);
    if (type === undefined) throw malformed(STATUS, `element type code ${bytes[at]! & 0x0f} is not one of 1-4`);
    const tags = { primary: (bytes[at + 1]! & 0x80) !== 0, alternate: (bytes[at + 1]! & 0x40) !== 0 };
    const descriptorLength = readUnsigned(bytes, at + 2, 2, STATUS);
    const pageLength = readUnsigned(bytes, at + 5, 3, STATUS);
    if (descriptorLength < DESCRIPTOR_MINIMUM) throw malformed(STATUS, `element descriptors of ${descriptorLength} bytes, fewer than 12`);
    const pageEnd = Math.min(end, at + 8 + pageLength);
    for (let d = at + 8; d + DESCRIPTOR_MINIMUM <= pageEnd; d += descriptorLength) {
      elements.push(parseDescriptor(type, bytes.subarray(d, Math.min(d + descriptorLength, pageEnd)), tags));
    }
    at += 8 + pageLength;
  }
  return elements;
}

type StatusQuery = { type: ElementType; first: number; count: number };

/** READ ELEMENT STATUS (B8h): VOLTAG always, DVCID when asked; the allocation length is 3 bytes. */
function elementStatusCdb(options: StatusQuery & { identifiers: boolean; allocation: number }): Uint8Array {
  const bytes = cdb(12, 0xb8, { 1: 0x10 | typeCodes[options.type], 6: options.identifiers ? 0x01 : 0x00 });
  writeUnsigned(bytes, 2, 2, options.first, 'first element address');
  writeUnsigned(bytes, 4, 2, options.count, 'element count');
  writeUnsigned(bytes, 7, 3, options.allocation, 'allocation length');
  return bytes;
}

const MAX_ALLOCATION = 0xffffff;

/** One element type's status: first the 8-byte header to learn how long the report is, then the
 * whole report. `identifiers` is turned off for good when the changer refuses DVCID. */
async function readTypeStatus(device: ScsiDevice, query: StatusQuery, identifiers: { on: boolean }): Promise<ElementStatus[]> {
  const ask = async (allocation: number): Promise<ScsiResult> => {
    for (;;) {
      const command = {
        cdb: elementStatusCdb({ ...query, identifiers: identifiers.on, allocation }),
        dataInLength: allocation,
        timeoutMs: INVENTORY_TIMEOUT_MS,
      };
      const result = await attempt(device, command, { retryUnitAttention: true });
      if (succeeded(result)) return result;
      // Changers older than SMC-3 refuse the DVCID bit as an invalid field in the CDB.
      if (identifiers.on && senseOf(result)?.senseKey === SenseKey.illegalRequest) {
        identifiers.on = false;
        continue;
      }
      throw scsiError(device, `READ ELEMENT STATUS (${query.type})`, result);
    }
  };
  const header = await ask(8);
  if (header.data.length < 8) throw malformed(STATUS, `a header of ${header.data.length} bytes`);
  const total = Math.min(MAX_ALLOCATION, 8 + readUnsigned(header.data, 5, 3, STATUS));
  return parseElementStatus((await ask(total)).data).filter((element) => element.type === query.type);
}

const ALL_TYPES: ElementType[] = ['transport', 'storage', 'import-export', 'data-transfer'];

/** READ ELEMENT STATUS with VOLTAG (barcodes) and DVCID (drive identifiers) unless refused. One
 * type at a time even when all are asked: tgt 1.0.85 lays out the all-types answer wrongly, and
 * every changer answers the per-type form. */
export async function readElementStatus(
  device: ScsiDevice,
  options: { type?: ElementType; first?: number; count?: number; identifiers?: boolean } = {},
): Promise<ElementStatus[]> {
  const identifiers = { on: options.identifiers ?? true };
  const elements: ElementStatus[] = [];
  for (const type of options.type === undefined ? ALL_TYPES : [options.type]) {
    elements.push(...(await readTypeStatus(device, { type, first: options.first ?? 0, count: options.count ?? 0xffff }, identifiers)));
  }
  return elements;
}

/** MOVE MEDIUM from one element to another with the given transport (picker). */
export async function moveMedium(device: ScsiDevice, transport: number, source: number, destination: number): Promise<void> {
  const bytes = cdb(12, 0xa5);
  writeUnsigned(bytes, 2, 2, transport, 'transport element address');
  writeUnsigned(bytes, 4, 2, source, 'source element address');
  writeUnsigned(bytes, 6, 2, destination, 'destination element address');
  await run(device, `MOVE MEDIUM (${source} to ${destination})`, { cdb: bytes, timeoutMs: MOVE_TIMEOUT_MS }, { retryUnitAttention: true });
}

/** INITIALIZE ELEMENT STATUS: the changer takes a fresh inventory (scans every barcode). */
export async function initializeElementStatus(device: ScsiDevice): Promise<void> {
  await run(device, 'INITIALIZE ELEMENT STATUS', { cdb: cdb(6, 0x07), timeoutMs: INVENTORY_TIMEOUT_MS }, { retryUnitAttention: true });
}
