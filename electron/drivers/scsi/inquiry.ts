// What a logical unit is (INQUIRY, SPC-4 6.6), its serial number (VPD page 80h) and whether it is
// ready (TEST UNIT READY). These work on every kind of device, so the library finds its changer
// and drives with them.
import { ascii, cdb, malformed, readUnsigned } from './cdb.ts';
import type { ScsiDevice } from './scsi-device.ts';
import { ScsiStatus } from './scsi-device.ts';
import { run, scsiError, senseOf, UNIT_ATTENTION_RETRIES } from './scsi-error.ts';
import { SenseKey, type SenseData } from './sense.ts';

export type InquiryData = {
  peripheralType: number;
  /** 0 = connected, 1 = supported but not connected, 3 = no logical unit here. */
  qualifier: number;
  removable: boolean;
  vendor: string;
  product: string;
  revision: string;
};

export const PeripheralType = { disk: 0, tape: 1, changer: 8, storageArrayController: 0x0c } as const;

// 96 bytes hold the standard data and fit the one-byte allocation field of older (SPC-2) devices.
const INQUIRY_LENGTH = 96;

export function parseInquiry(bytes: Uint8Array): InquiryData {
  if (bytes.length < 5) throw malformed('INQUIRY data', `${bytes.length} bytes, fewer than the 5-byte header`);
  return {
    peripheralType: bytes[0]! & 0x1f,
    qualifier: bytes[0]! >> 5,
    removable: (bytes[1]! & 0x80) !== 0,
    vendor: ascii(bytes, 8, 16),
    product: ascii(bytes, 16, 32),
    revision: ascii(bytes, 32, 36),
  };
}

export async function inquiry(device: ScsiDevice): Promise<InquiryData> {
  const result = await run(device, 'INQUIRY', {
    cdb: cdb(6, 0x12, { 4: INQUIRY_LENGTH }),
    dataInLength: INQUIRY_LENGTH,
    attribute: 'simple',
  });
  return parseInquiry(result.data);
}

/** The serial number of VPD page 80h, or null when the page is empty or absent. */
export function parseUnitSerialNumber(bytes: Uint8Array): string | null {
  if (bytes.length < 4 || bytes[1] !== 0x80) throw malformed('unit serial number page', 'it is not page 80h');
  const length = readUnsigned(bytes, 2, 2, 'unit serial number page');
  const serial = ascii(bytes, 4, 4 + length);
  return serial === '' ? null : serial;
}

export async function unitSerialNumber(device: ScsiDevice): Promise<string | null> {
  const command = { cdb: cdb(6, 0x12, { 1: 0x01, 2: 0x80, 4: 0xff }), dataInLength: 0xff, attribute: 'simple' as const };
  const result = await device.execute(command);
  // A device without the page says ILLEGAL REQUEST (invalid field in CDB).
  if (senseOf(result)?.senseKey === SenseKey.illegalRequest) return null;
  if (result.status !== ScsiStatus.good) throw scsiError(device, 'INQUIRY (unit serial number)', result);
  return parseUnitSerialNumber(result.data);
}

/** Null when the unit is ready; else the sense that says why not (NOT READY, medium not present…). */
export async function testUnitReady(device: ScsiDevice, signal?: AbortSignal): Promise<SenseData | null> {
  for (let attempt = 0; ; attempt++) {
    const result = await device.execute({ cdb: cdb(6, 0x00), signal });
    if (result.status === ScsiStatus.good) return null;
    const sense = senseOf(result);
    if (sense === null) throw scsiError(device, 'TEST UNIT READY', result);
    if (sense.senseKey !== SenseKey.unitAttention || attempt >= UNIT_ATTENTION_RETRIES) return sense;
  }
}
