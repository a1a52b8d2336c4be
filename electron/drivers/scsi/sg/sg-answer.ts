// What crosses the SG_IO boundary, both ways, without the kernel: a ScsiCommand becomes the
// arguments of one ioctl, and the sg_io_hdr's answer becomes the seam's ScsiResult, or the
// LifeboatError of a transport failure (host or driver status, a failed ioctl). A CHECK CONDITION
// is an answer with sense, never a throw (the command layer decodes it).
import { constants } from 'node:os';
import { LifeboatError } from '../../../errors.ts';
import { ScsiStatus, type ScsiCommand, type ScsiResult } from '../scsi-device.ts';
import { SgDirection, type SgAnswer, type SgErrnoError } from './sg-native.ts';

/** A command with no timeout of its own; tape callers set minutes where a command needs them. */
export const sgDefaultTimeoutMs = 60_000;
/** sg_io_hdr.timeout is an unsigned int of milliseconds. */
const maxTimeoutMs = 0xffff_ffff;
/** The longest CDB the kernel's sg driver takes (SG_MAX_CDB_SIZE). */
const maxCdbLength = 252;

export type SgRequest = { cdb: Uint8Array; direction: SgDirection; buffer: Uint8Array | null; timeoutMs: number };

/** "command 12h" for messages: the operation code is what a SCSI reference is indexed by. */
export function opcodeName(cdb: Uint8Array): string {
  return `command ${(cdb[0] ?? 0).toString(16).padStart(2, '0').toUpperCase()}h`;
}

export function sgRequest(command: ScsiCommand, address: string): SgRequest {
  const { cdb, dataOut } = command;
  const dataInLength = command.dataInLength ?? 0;
  if (cdb.length < 1 || cdb.length > maxCdbLength)
    throw new LifeboatError('bad-request', `${address}: a CDB of ${cdb.length} bytes cannot be sent (1 to ${maxCdbLength})`);
  if (!Number.isSafeInteger(dataInLength) || dataInLength < 0 || dataInLength > 0xffff_ffff)
    throw new LifeboatError('bad-request', `${address}: ${opcodeName(cdb)} asks for ${dataInLength} bytes of data in`);
  if (dataOut !== undefined && dataOut.length > 0 && dataInLength > 0)
    throw new LifeboatError('bad-request', `${address}: ${opcodeName(cdb)} has both a data-out and a data-in phase; SG_IO carries one`);
  const timeoutMs = command.timeoutMs ?? sgDefaultTimeoutMs;
  if (!(timeoutMs > 0)) throw new LifeboatError('bad-request', `${address}: ${opcodeName(cdb)} has a timeout of ${timeoutMs} ms`);
  const request = { cdb: Uint8Array.from(cdb), timeoutMs: Math.min(Math.ceil(timeoutMs), maxTimeoutMs) };
  if (dataOut !== undefined && dataOut.length > 0) return { ...request, direction: SgDirection.toDevice, buffer: dataOut };
  if (dataInLength > 0) return { ...request, direction: SgDirection.fromDevice, buffer: new Uint8Array(dataInLength) };
  return { ...request, direction: SgDirection.none, buffer: null };
}

/** The host byte (DID_* of include/scsi/scsi_status.h): what the HBA or its link said. */
const hostStatusNames: Record<number, string> = {
  0x01: 'no connection to the device (DID_NO_CONNECT)',
  0x02: 'the bus stayed busy (DID_BUS_BUSY)',
  0x03: 'the command timed out (DID_TIME_OUT)',
  0x04: 'the target is not there (DID_BAD_TARGET)',
  0x05: 'the command was aborted (DID_ABORT)',
  0x06: 'parity error (DID_PARITY)',
  0x07: 'internal HBA error (DID_ERROR)',
  0x08: 'the bus was reset (DID_RESET)',
  0x09: 'unexpected interrupt (DID_BAD_INTR)',
  0x0b: 'the HBA asked for a retry (DID_SOFT_ERROR)',
  0x0c: 'the HBA asked for a retry (DID_IMM_RETRY)',
  0x0d: 'the HBA asked for a requeue (DID_REQUEUE)',
  0x0e: 'the transport was disrupted (DID_TRANSPORT_DISRUPTED)',
  0x0f: 'the transport failed fast (DID_TRANSPORT_FAILFAST)',
  0x10: 'the target failed (DID_TARGET_FAILURE)',
  0x11: 'the nexus failed (DID_NEXUS_FAILURE)',
  0x12: 'no resources in the HBA (DID_ALLOC_FAILURE)',
  0x13: 'medium error (DID_MEDIUM_ERROR)',
};
const hostTimedOut = 0x03;
/** The driver byte's low nibble: 0 is fine, and DRIVER_SENSE (8) only says sense is present. */
const driverSense = 0x08;
const driverTimeout = 0x06;
const driverStatusNames: Record<number, string> = {
  1: 'DRIVER_BUSY',
  2: 'DRIVER_SOFT',
  3: 'DRIVER_MEDIA',
  4: 'DRIVER_ERROR',
  5: 'DRIVER_INVALID',
  6: 'DRIVER_TIMEOUT',
  7: 'DRIVER_HARD',
};

export function sgResult(answer: SgAnswer, request: SgRequest, address: string): ScsiResult {
  const what = `${address}: ${opcodeName(request.cdb)}`;
  const driver = answer.driverStatus & 0x0f;
  if (answer.hostStatus === hostTimedOut || driver === driverTimeout)
    throw new LifeboatError('unavailable', `${what} did not finish within ${request.timeoutMs / 1000} s; the kernel aborted it`);
  if (answer.hostStatus !== 0) {
    const name = hostStatusNames[answer.hostStatus] ?? `host status ${answer.hostStatus}`;
    throw new LifeboatError('unavailable', `${what} failed on the way to the device: ${name}`);
  }
  if (driver !== 0 && driver !== driverSense) {
    const name = driverStatusNames[driver] ?? `driver status ${answer.driverStatus}`;
    throw new LifeboatError('unavailable', `${what} failed in the kernel's SCSI layer (${name})`);
  }
  const asked = request.direction === SgDirection.fromDevice && request.buffer !== null ? request.buffer.length : 0;
  const residual = Math.min(Math.max(answer.resid, 0), asked);
  const data =
    request.direction === SgDirection.fromDevice && request.buffer !== null
      ? request.buffer.subarray(0, asked - residual)
      : new Uint8Array(0);
  const sense = answer.status !== ScsiStatus.good && answer.sense.length > 0 ? Uint8Array.from(answer.sense) : null;
  return { status: answer.status, data, residual, sense };
}

const errnoNames = new Map(Object.entries(constants.errno).map(([name, number]) => [number, name]));

/** "ENOTTY" for a Node fs error (code) or an addon error (errno number); anything else is unknown. */
export function errnoName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'an unknown error';
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string') return code;
  return (typeof errno === 'number' ? errnoNames.get(errno) : undefined) ?? 'an unknown error';
}

/** A failed SG_IO ioctl: the command never reached the device, or the device went away. */
export function sgIoctlError(error: SgErrnoError, request: SgRequest, address: string): LifeboatError {
  const what = `${address}: ${opcodeName(request.cdb)}`;
  const name = errnoName(error);
  const cause = { cause: error };
  switch (name) {
    case 'ECANCELED':
      return new LifeboatError('cancelled', `${what} was cancelled before the kernel took it`, cause);
    case 'ENODEV':
    case 'ENXIO':
      return new LifeboatError('unavailable', `${what} failed: the device is gone (${name}); it was removed or its link went down`, cause);
    case 'EPERM':
    case 'EACCES':
      return new LifeboatError(
        'unavailable',
        `${what} was refused (${name}): it needs the device opened read-write, or CAP_SYS_RAWIO`,
        cause,
      );
    case 'EINVAL':
    case 'ENOMEM':
    case 'EOVERFLOW': {
      const size =
        request.buffer === null ? '' : `; a transfer of ${request.buffer.length} bytes may exceed what the adapter takes (max_sectors_kb)`;
      return new LifeboatError('bad-request', `${what} was refused by the kernel (${name})${size}`, cause);
    }
    default:
      return new LifeboatError('unavailable', `${what} failed: SG_IO returned ${name} (${error.message})`, cause);
  }
}
