// Media changer commands (SMC-3): where the elements are (page 1Dh), what each holds (READ
// ELEMENT STATUS with volume tags and, for drives, their identifiers), and moving a cartridge.
import { LifeboatError } from '../../errors.ts';
import { ascii, byteOr0, cdb, malformed, readUnsigned, writeUnsigned } from './cdb.ts';
import { modeSense6, requirePage } from './mode.ts';
import type { ScsiDevice, ScsiResult } from './scsi-device.ts';
import { run, scsiError, senseOf, succeeded } from './scsi-error.ts';
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

/** One element descriptor; `voltag`/`avoltag` say which 36-byte volume tags precede the identifier. */
function parseDescriptor(type: ElementType, bytes: Uint8Array, tags: { primary: boolean; alternate: boolean }): ElementStatus {
  const flags = bytes[2]!;
  const full = (flags & 0x01) !== 0;
  const tag = tags.primary ? ascii(bytes, 12, 44) : '';
  let identifier: string | null = null;
  const at = 12 + (tags.primary ? 36 : 0) + (tags.alternate ? 36 : 0);
  if (type === 'data-transfer' && at + 4 <= bytes.length) {
    const length = bytes[at + 3]!;
    identifier = identifierText(bytes.subarray(at + 4, Math.min(bytes.length, at + 4 + length)), bytes[at]! & 0x0f);
  }
  const sourceValid = (byteOr0(bytes, 9) & 0x80) !== 0 && bytes.length >= 12;
  return {
    type,
    address: readUnsigned(bytes, 0, 2, STATUS),
    full,
    barcode: tag === '' ? null : tag,
    sourceAddress: sourceValid ? readUnsigned(bytes, 10, 2, STATUS) : null,
    exception: (flags & 0x04) !== 0 ? { asc: byteOr0(bytes, 4), ascq: byteOr0(bytes, 5) } : null,
    // The transport element has no ACCESS bit: it is always reachable by the changer itself.
    accessible: type === 'transport' || (flags & 0x08) !== 0,
    identifier,
  };
}

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
    const pageEnd = Math.min(end, at + 8 + readUnsigned(bytes, at + 5, 3, STATUS));
    if (descriptorLength < 12) throw malformed(STATUS, `element descriptors of ${descriptorLength} bytes, fewer than 12`);
    for (let d = at + 8; d + descriptorLength <= pageEnd; d += descriptorLength) {
      elements.push(parseDescriptor(type, bytes.subarray(d, d + descriptorLength), tags));
    }
    at = at + 8 + readUnsigned(bytes, at + 5, 3, STATUS);
  }
  return elements;
}

function elementStatusCdb(options: {
  type?: ElementType;
  first: number;
  count: number;
  identifiers: boolean;
  allocation: number;
}): Uint8Array {
  const bytes = cdb(12, 0xb8, {
    1: 0x10 | (options.type === undefined ? 0 : typeCodes[options.type]),
    6: options.identifiers ? 0x01 : 0x00,
  });
  writeUnsigned(bytes, 2, 2, options.first, 'first element address');
  writeUnsigned(bytes, 4, 2, options.count, 'element count');
  writeUnsigned(bytes, 7, 3, options.allocation, 'allocation length');
  return bytes;
}

const MAX_ALLOCATION = 0xffffff;

/** READ ELEMENT STATUS with VOLTAG (and DVCID unless refused): first the 8-byte header to learn
 * how many bytes the report has, then the whole report. */
export async function readElementStatus(
  device: ScsiDevice,
  options: { type?: ElementType; first?: number; count?: number; identifiers?: boolean } = {},
): Promise<ElementStatus[]> {
  const base = { type: options.type, first: options.first ?? 0, count: options.count ?? 0xffff };
  let identifiers = options.identifiers ?? true;
  const ask = async (allocation: number): Promise<ScsiResult> => {
    for (;;) {
      const result = await device.execute({
        cdb: elementStatusCdb({ ...base, identifiers, allocation }),
        dataInLength: allocation,
        timeoutMs: INVENTORY_TIMEOUT_MS,
      });
      if (succeeded(result)) return result;
      // Changers older than SMC-3 refuse the DVCID bit as an invalid field in the CDB.
      if (identifiers && senseOf(result)?.senseKey === SenseKey.illegalRequest) {
        identifiers = false;
        continue;
      }
      throw scsiError(device, 'READ ELEMENT STATUS', result);
    }
  };
  const header = await ask(8);
  if (header.data.length < 8) throw malformed(STATUS, `a header of ${header.data.length} bytes`);
  const total = Math.min(MAX_ALLOCATION, 8 + readUnsigned(header.data, 5, 3, STATUS));
  return parseElementStatus((await ask(total)).data);
}

/** MOVE MEDIUM from one element to another with the given transport (picker). */
export async function moveMedium(device: ScsiDevice, transport: number, source: number, destination: number): Promise<void> {
  const bytes = cdb(12, 0xa5);
  writeUnsigned(bytes, 2, 2, transport, 'transport element address');
  writeUnsigned(bytes, 4, 2, source, 'source element address');
  writeUnsigned(bytes, 6, 2, destination, 'destination element address');
  await run(device, `MOVE MEDIUM (${source} to ${destination})`, { cdb: bytes, timeoutMs: MOVE_TIMEOUT_MS });
}

/** INITIALIZE ELEMENT STATUS: the changer takes a fresh inventory (scans every barcode). */
export async function initializeElementStatus(device: ScsiDevice): Promise<void> {
  await run(device, 'INITIALIZE ELEMENT STATUS', { cdb: cdb(6, 0x07), timeoutMs: INVENTORY_TIMEOUT_MS });
}

/** The element of the given type and address in a status list, or an error naming it. */
export function findElement(elements: ElementStatus[], type: ElementType, address: number): ElementStatus {
  const element = elements.find((e) => e.type === type && e.address === address);
  if (element === undefined) throw new LifeboatError('not-found', `The changer reports no ${type} element at address ${address}.`);
  return element;
}
