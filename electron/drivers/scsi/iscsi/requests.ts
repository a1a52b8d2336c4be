// Headers of the PDUs an initiator sends in full feature phase (RFC 7143 §11): pure builders, so the
// session holds only state and order. Sequence numbers are passed in; nothing here advances them.
import { encodeLun } from './luns.ts';
import { IMMEDIATE, newBhs, NO_TAG, Opcode } from './pdu.ts';
import type { TaskAttribute } from '../scsi-device.ts';

const FINAL = 0x80;
const READ = 0x40;
const WRITE = 0x20;
const ATTRIBUTES: Record<TaskAttribute, number> = { simple: 1, ordered: 2, 'head-of-queue': 3 };

export type Numbering = { itt: number; cmdSN: number; expStatSN: number };

export function scsiCommandBhs(
  lun: number,
  cdb: Uint8Array,
  direction: { read: number; write: number },
  attribute: TaskAttribute,
  unsolicitedFollow: boolean,
  n: Numbering,
): Buffer {
  let flags = ATTRIBUTES[attribute];
  if (!unsolicitedFollow) flags |= FINAL;
  if (direction.read > 0) flags |= READ;
  if (direction.write > 0) flags |= WRITE;
  const bhs = newBhs(Opcode.scsiCommand, flags);
  encodeLun(lun).copy(bhs, 8);
  bhs.writeUInt32BE(n.itt, 16);
  bhs.writeUInt32BE(direction.read > 0 ? direction.read : direction.write, 20);
  bhs.writeUInt32BE(n.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(n.expStatSN >>> 0, 28);
  Buffer.from(cdb).copy(bhs, 32, 0, 16);
  return bhs;
}

export function dataOutBhs(
  lun: number,
  itt: number,
  ttt: number,
  expStatSN: number,
  dataSN: number,
  offset: number,
  final: boolean,
): Buffer {
  const bhs = newBhs(Opcode.dataOut, final ? FINAL : 0);
  encodeLun(lun).copy(bhs, 8);
  bhs.writeUInt32BE(itt, 16);
  bhs.writeUInt32BE(ttt, 20);
  bhs.writeUInt32BE(expStatSN >>> 0, 28);
  bhs.writeUInt32BE(dataSN >>> 0, 36);
  bhs.writeUInt32BE(offset >>> 0, 40);
  return bhs;
}

/** A ping (ours: a fresh ITT) or the answer to the target's (ITT reserved, its TTT and LUN echoed). */
export function nopOutBhs(itt: number, ttt: number, lunField: Buffer | null, cmdSN: number, expStatSN: number): Buffer {
  const bhs = newBhs(Opcode.nopOut | IMMEDIATE, FINAL);
  lunField?.copy(bhs, 8, 0, 8);
  bhs.writeUInt32BE(itt, 16);
  bhs.writeUInt32BE(ttt, 20);
  bhs.writeUInt32BE(cmdSN >>> 0, 24);
  bhs.writeUInt32BE(expStatSN >>> 0, 28);
  return bhs;
}

export const TaskFunction = { abortTask: 1, logicalUnitReset: 5 } as const;

export function taskManagementBhs(fn: number, lun: number, referenced: { itt: number; cmdSN: number } | null, n: Numbering): Buffer {
  const bhs = newBhs(Opcode.taskManagement | IMMEDIATE, FINAL | fn);
  encodeLun(lun).copy(bhs, 8);
  bhs.writeUInt32BE(n.itt, 16);
  bhs.writeUInt32BE(referenced?.itt ?? NO_TAG, 20);
  bhs.writeUInt32BE(n.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(n.expStatSN >>> 0, 28);
  bhs.writeUInt32BE((referenced?.cmdSN ?? 0) >>> 0, 32);
  return bhs;
}

/** Logout reason 0: close the session. */
export function logoutBhs(n: Numbering): Buffer {
  const bhs = newBhs(Opcode.logoutRequest | IMMEDIATE, FINAL);
  bhs.writeUInt32BE(n.itt, 16);
  bhs.writeUInt32BE(n.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(n.expStatSN >>> 0, 28);
  return bhs;
}

export function textBhs(ttt: number, n: Numbering): Buffer {
  const bhs = newBhs(Opcode.textRequest | IMMEDIATE, FINAL);
  bhs.writeUInt32BE(n.itt, 16);
  bhs.writeUInt32BE(ttt, 20);
  bhs.writeUInt32BE(n.cmdSN >>> 0, 24);
  bhs.writeUInt32BE(n.expStatSN >>> 0, 28);
  return bhs;
}
