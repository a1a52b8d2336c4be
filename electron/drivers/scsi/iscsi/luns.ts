// LUN numbers on the wire (SAM-5 §4.7): the 8-byte LUN field of iSCSI PDUs and the REPORT LUNS list.
// We speak single-level addressing: peripheral form (00b, LUN < 256) and flat space (01b, < 16384).
import { LifeboatError } from '../../../errors.ts';

export const MAX_LUN = 16383;

export function encodeLun(lun: number): Buffer {
  if (!Number.isInteger(lun) || lun < 0 || lun > MAX_LUN)
    throw new LifeboatError('bad-request', `LUN ${lun} is not one iSCSI can address (0 to ${MAX_LUN})`);
  const field = Buffer.alloc(8);
  if (lun < 256) field[1] = lun;
  else field.writeUInt16BE(0x4000 | lun, 0);
  return field;
}

/** The LUN a single-level peripheral or flat-space field names, else null (hierarchical and extended forms). */
export function decodeLun(field: Uint8Array): number | null {
  if (field.length < 8) return null;
  for (let at = 2; at < 8; at += 1) if (field[at] !== 0) return null;
  const method = (field[0] as number) >> 6;
  if (method === 0) return (field[0] as number) === 0 ? (field[1] as number) : null; // bus ≠ 0 is another level
  if (method === 1) return (((field[0] as number) & 0x3f) << 8) | (field[1] as number);
  return null;
}

/** REPORT LUNS (SPC-4 §6.33) with room for 1024 LUNs. */
export function reportLunsCdb(allocation: number): Uint8Array {
  const cdb = Buffer.alloc(12);
  cdb[0] = 0xa0;
  cdb.writeUInt32BE(allocation, 6);
  return cdb;
}

/** The LUN list's length as the target declares it, and the LUNs in the bytes we got (in order, once each). */
export function parseReportLuns(data: Uint8Array): { listLength: number; luns: number[] } {
  if (data.length < 8)
    throw new LifeboatError('unavailable', `the REPORT LUNS answer is ${data.length} bytes, shorter than its 8-byte header`);
  const listLength = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUInt32BE(0);
  const end = Math.min(data.length, 8 + listLength);
  const luns: number[] = [];
  for (let at = 8; at + 8 <= end; at += 8) {
    const lun = decodeLun(data.subarray(at, at + 8));
    if (lun !== null && !luns.includes(lun)) luns.push(lun);
  }
  return { listLength, luns };
}
