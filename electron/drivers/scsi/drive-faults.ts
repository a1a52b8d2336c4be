// What a failed tape command means to the engine: an unreadable block is a TapeMediumError (the
// tape pass treats it like a damaged block of a virtual tape), a write-protected cartridge is a
// conflict, the physical end of the tape without early warning is target-full; running into
// the end of data or a filemark while spacing means the place asked for is not on the tape.
import { LifeboatError } from '../../errors.ts';
import { TapeMediumError } from '../../drivers/tape/tape-driver.ts';
import { ScsiError } from './scsi-error.ts';
import { SenseKey } from './sense.ts';

export type FaultContext = { label: string; barcode: string; object: number | null };

export function driveFault(error: unknown, context: FaultContext): unknown {
  if (!(error instanceof ScsiError)) return error;
  const key = error.sense?.senseKey;
  // A write the end of the tape stopped: VOLUME OVERFLOW, or any failure with the EOM bit.
  const endOfTape = error.code === 'target-full' || (error.sense?.endOfMedium === true && error.command.startsWith('WRITE'));
  if (endOfTape)
    return new LifeboatError('target-full', `${context.label}: the tape is full (${error.message})`, {
      cause: error,
    });
  if (key === SenseKey.mediumError) return new TapeMediumError(`${context.label}: ${error.message}`, context.object ?? -1, 'medium');
  if (key === SenseKey.dataProtect)
    return new LifeboatError('conflict', `tape ${context.barcode} is write-protected; nothing more was written to it`);
  return error;
}

/** The device refused the command itself (an optional command it does not implement). */
export function isRefused(error: unknown): boolean {
  return error instanceof ScsiError && error.sense?.senseKey === SenseKey.illegalRequest;
}

/** SPACE stopped early (at the end of the data, a filemark, the beginning of the tape): the
 * command layer says so with code 'not-found'. */
export function isShortSpace(error: unknown): boolean {
  return error instanceof ScsiError && error.code === 'not-found';
}

/** A positioning command ran into the end of the recorded data (BLANK CHECK, or 00h/05h). */
export function isEndOfData(error: unknown): boolean {
  if (!(error instanceof ScsiError) || !error.sense) return false;
  const { senseKey, asc, ascq } = error.sense;
  return senseKey === SenseKey.blankCheck || (asc === 0x00 && ascq === 0x05);
}
