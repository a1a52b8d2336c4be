// A SCSI command that did not succeed, as the operator sees it: which device, which command, and
// the device's own words (the decoded sense). The code says what kind of trouble it is, so the
// callers above (the tape pass, the console) react alike for iSCSI and local drives.
import { type ErrorCode, LifeboatError } from '../../errors.ts';
import type { ScsiCommand, ScsiDevice, ScsiResult } from './scsi-device.ts';
import { ScsiStatus } from './scsi-device.ts';
import { decodeSense, describeSense, SenseKey, type SenseData } from './sense.ts';
import { hex } from './cdb.ts';

export class ScsiError extends LifeboatError {
  readonly sense: SenseData | null;
  readonly status: number;
  readonly device: string;
  readonly command: string;
  constructor(code: ErrorCode, message: string, details: { sense: SenseData | null; status: number; device: string; command: string }) {
    super(code, message);
    this.name = 'ScsiError';
    this.sense = details.sense;
    this.status = details.status;
    this.device = details.device;
    this.command = details.command;
  }
}

function codeOf(sense: SenseData | null, status: number): ErrorCode {
  if (sense === null) return status === ScsiStatus.reservationConflict ? 'conflict' : 'unavailable';
  switch (sense.senseKey) {
    case SenseKey.mediumError:
    case SenseKey.hardwareError:
      return 'corrupt-backup';
    case SenseKey.dataProtect:
      return 'conflict';
    case SenseKey.volumeOverflow:
      return 'target-full';
    case SenseKey.illegalRequest:
      return 'bad-request';
    default:
      return 'unavailable';
  }
}

const statusNames: Record<number, string> = {
  [ScsiStatus.checkCondition]: 'CHECK CONDITION without sense data',
  [ScsiStatus.busy]: 'BUSY',
  [ScsiStatus.reservationConflict]: 'RESERVATION CONFLICT (another host holds the device)',
  [ScsiStatus.taskSetFull]: 'TASK SET FULL',
  [ScsiStatus.acaActive]: 'ACA ACTIVE',
  [ScsiStatus.taskAborted]: 'TASK ABORTED',
};

/** The error for a result that is not a success; sense bytes that cannot be decoded are named as such. */
export function scsiError(device: ScsiDevice, command: string, result: ScsiResult): ScsiError {
  let sense: SenseData | null = null;
  let why: string;
  if (result.sense !== null && result.sense.length > 0) {
    try {
      sense = decodeSense(result.sense);
      why = describeSense(sense);
    } catch (error) {
      why = `status ${hex(result.status)} with undecodable sense data (${(error as Error).message})`;
    }
  } else {
    why = `status ${statusNames[result.status] ?? 'unknown'} (${hex(result.status)})`;
  }
  return new ScsiError(codeOf(sense, result.status), `${device.address}: ${command} failed: ${why}`, {
    sense,
    status: result.status,
    device: device.address,
    command,
  });
}

/** The decoded sense of a CHECK CONDITION, or null when there is none (or it cannot be read). */
export function senseOf(result: ScsiResult): SenseData | null {
  if (result.status !== ScsiStatus.checkCondition || result.sense === null || result.sense.length === 0) return null;
  try {
    return decodeSense(result.sense);
  } catch {
    return null;
  }
}

/** Whether the command did what it was asked: GOOD, CONDITION MET, or a RECOVERED ERROR (the
 * device succeeded after retries and says so). */
export function succeeded(result: ScsiResult): boolean {
  if (result.status === ScsiStatus.good || result.status === ScsiStatus.conditionMet) return true;
  return senseOf(result)?.senseKey === SenseKey.recoveredError;
}

// A UNIT ATTENTION is reported once per event (reset, new login, medium changed, mode changed);
// a few in a row are normal, an endless stream is a device fault.
export const UNIT_ATTENTION_RETRIES = 8;

export function isUnitAttention(result: ScsiResult): boolean {
  return senseOf(result)?.senseKey === SenseKey.unitAttention;
}

export type RunOptions = {
  /** Repeat the command after a UNIT ATTENTION (bounded). Only for commands whose repeat does the
   * same thing whatever changed: never for reads, writes or relative moves on a tape. */
  retryUnitAttention?: boolean;
};

/** Executes a command, repeating it after a UNIT ATTENTION when asked; any result is returned. */
export async function attempt(device: ScsiDevice, command: ScsiCommand, options: RunOptions = {}): Promise<ScsiResult> {
  for (let tries = 0; ; tries++) {
    const result = await device.execute(command);
    if (!(options.retryUnitAttention === true && tries < UNIT_ATTENTION_RETRIES && isUnitAttention(result))) return result;
  }
}

/** Runs a command and throws ScsiError unless it succeeded. */
export async function run(device: ScsiDevice, name: string, command: ScsiCommand, options: RunOptions = {}): Promise<ScsiResult> {
  const result = await attempt(device, command, options);
  if (!succeeded(result)) throw scsiError(device, name, result);
  return result;
}
