// One SCSI command's life on the wire, as pure steps: how much of its data goes unsolicited, how a
// sequence of Data-Out PDUs is cut, where Data-In lands, and the result a status PDU makes of it.
import { LifeboatError } from '../../../errors.ts';
import type { ScsiCommand, ScsiResult } from '../scsi-device.ts';
import type { SessionParams } from './params.ts';
import { flagsOf, word, type Pdu } from './pdu.ts';

export type IscsiCommand = ScsiCommand & {
  /** Safe to send again after a dropped connection (INQUIRY, TEST UNIT READY, REPORT LUNS, READ ELEMENT STATUS). */
  retryable?: boolean;
};

export type Task = {
  lun: number;
  command: IscsiCommand;
  /** For messages: `READ(6)`, `INQUIRY`… */
  name: string;
  /** Where: `iscsi://host:port/iqn/lun`. */
  where: string;
  itt: number;
  cmdSN: number;
  dataIn: Buffer | null;
  /** The end of the furthest Data-In placed so far. */
  received: number;
  retried: boolean;
  resolve: (result: ScsiResult) => void;
  reject: (error: Error) => void;
  cleanup: () => void;
};

/** Bytes sent with the command (immediate data), and up to where data goes without an R2T. */
export function unsolicitedData(params: SessionParams, length: number): { immediate: number; unsolicited: number } {
  const immediate = params.immediateData ? Math.min(length, params.firstBurstLength, params.maxSendDataSegment) : 0;
  return { immediate, unsolicited: params.initialR2T ? immediate : Math.min(length, params.firstBurstLength) };
}

/** The Data-Out PDUs of one sequence: each within the target's segment limit, DataSN from 0, F on the last. */
export function* dataOutSegments(
  params: SessionParams,
  offset: number,
  length: number,
): Generator<{ at: number; size: number; dataSN: number; final: boolean }> {
  let dataSN = 0;
  for (let at = offset; at < offset + length; dataSN += 1) {
    const size = Math.min(params.maxSendDataSegment, offset + length - at);
    yield { at, size, dataSN, final: at + size >= offset + length };
    at += size;
  }
}

/** Places a Data-In PDU's bytes at its Buffer Offset; more than was asked for is a protocol error. */
export function placeDataIn(task: Task, pdu: Pdu): void {
  if (pdu.data.length === 0) return;
  const offset = word(pdu, 40);
  const buffer = task.dataIn;
  if (!buffer || offset + pdu.data.length > buffer.length) {
    throw new LifeboatError('unavailable', `${task.where}: the target sent more data for ${task.name} than was asked for`);
  }
  pdu.data.copy(buffer, offset);
  task.received = Math.max(task.received, offset + pdu.data.length);
}

/** The result a status-carrying PDU (last Data-In with S, or SCSI Response) makes; sense from a response's data. */
export function resultOf(task: Task, pdu: Pdu, withSense: boolean): ScsiResult {
  let sense: Buffer | null = null;
  if (withSense && pdu.data.length >= 2) {
    const length = Math.min(pdu.data.readUInt16BE(0), pdu.data.length - 2);
    if (length > 0) sense = Buffer.from(pdu.data.subarray(2, 2 + length));
  }
  // Only an underflow (U bit) is a residual of ours; an overflow's count is data the target kept.
  const residual = (flagsOf(pdu) & 0x02) !== 0 ? word(pdu, 44) : 0;
  return { status: pdu.bhs[3] as number, data: (task.dataIn ?? Buffer.alloc(0)).subarray(0, task.received), residual, sense };
}
