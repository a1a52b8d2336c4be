// What each failed tape command becomes for the engine (drive-faults.ts), from the fixed-format
// sense bytes a drive sends: the end of the tape on a write is target-full (tgt never reports
// it, so it is checked here on the bytes a real drive sends), an unreadable block a
// TapeMediumError, write protection a conflict naming the tape, anything else the command's own
// ScsiError.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { TapeMediumError } from '../../electron/drivers/tape/tape-driver.ts';
import { driveFault, isEndOfData } from '../../electron/drivers/scsi/drive-faults.ts';
import type { ScsiDevice } from '../../electron/drivers/scsi/scsi-device.ts';
import { scsiError } from '../../electron/drivers/scsi/scsi-error.ts';

const device: ScsiDevice = { address: 'iscsi://127.0.0.1:3260/iqn.test/1', execute: () => Promise.reject(new Error('not used')) };
const context = { label: 'tape LB0001L9 in drive 1', barcode: 'LB0001L9', object: 41 };

/** The command's error for a CHECK CONDITION with fixed-format sense: key, ASC/ASCQ, EOM bit. */
function checkCondition(command: string, key: number, asc: number, ascq: number, endOfMedium = false): Error {
  const sense = new Uint8Array(18);
  sense[0] = 0x70;
  sense[2] = key | (endOfMedium ? 0x40 : 0);
  sense[7] = 10;
  sense[12] = asc;
  sense[13] = ascq;
  return scsiError(device, command, { status: 2, data: new Uint8Array(0), residual: 0, sense });
}

function failed(command: string, key: number, asc: number, ascq: number, endOfMedium = false): unknown {
  return driveFault(checkCondition(command, key, asc, ascq, endOfMedium), context);
}

function assertFault(fault: unknown, code: string, pattern: RegExp): void {
  assert.ok(fault instanceof LifeboatError, String(fault));
  assert.equal(fault.code, code, fault.message);
  assert.match(fault.message, pattern);
}

test('the end of the tape on a write is target-full', () => {
  assertFault(failed('WRITE', 0x0d, 0x00, 0x02, true), 'target-full', /^tape LB0001L9 in drive 1: the tape is full \(.*VOLUME OVERFLOW/);
  assertFault(failed('WRITE', 0x03, 0x0c, 0x00, true), 'target-full', /the tape is full/);
  assertFault(failed('WRITE FILEMARKS', 0x03, 0x0c, 0x00, true), 'target-full', /the tape is full/);
});

test('an unreadable block is a TapeMediumError at its logical object, with the sense text', () => {
  const fault = failed('READ', 0x03, 0x11, 0x00);
  assert.ok(fault instanceof TapeMediumError);
  assert.equal(fault.fault, 'medium');
  assert.equal(fault.position, 41);
  assertFault(fault, 'corrupt-backup', /^tape LB0001L9 in drive 1: .*MEDIUM ERROR/);
  // EOM on a read is the end of the data area, not a full tape.
  assert.ok(failed('READ', 0x03, 0x11, 0x00, true) instanceof TapeMediumError);
});

test('write protection is a conflict naming the tape; anything else stays the command error', () => {
  assertFault(failed('WRITE', 0x07, 0x27, 0x00), 'conflict', /^tape LB0001L9 is write-protected/);
  const other = failed('REWIND', 0x04, 0x44, 0x00);
  assertFault(other, 'corrupt-backup', /REWIND failed: HARDWARE ERROR/);
  assert.ok(!(other instanceof TapeMediumError));
  const plain = new Error('socket closed');
  assert.equal(driveFault(plain, context), plain);
});

test('a LOCATE past the recorded data is told apart from other failures', () => {
  const sensed = (key: number, asc: number, ascq: number): Error => checkCondition('LOCATE(16)', key, asc, ascq);
  assert.equal(isEndOfData(sensed(0x08, 0x00, 0x05)), true);
  assert.equal(isEndOfData(sensed(0x00, 0x00, 0x05)), true);
  assert.equal(isEndOfData(sensed(0x03, 0x14, 0x00)), false);
  assert.equal(isEndOfData(new Error('socket closed')), false);
});
