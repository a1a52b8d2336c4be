// The JS half of the SG_IO marshalling: a ScsiCommand becomes the ioctl's arguments (direction,
// buffer, timeout), and the sg_io_hdr's answer becomes a ScsiResult or one clear LifeboatError.
// The C half is exercised against the kernel in test/integration/sg-device.test.ts.
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { parseSgUrl } from '../../electron/drivers/scsi/sg/sg-bus.ts';
import {
  errnoName,
  sgDefaultTimeoutMs,
  sgIoctlError,
  sgRequest,
  sgResult,
  type SgRequest,
} from '../../electron/drivers/scsi/sg/sg-answer.ts';
import { SgDirection, type SgAnswer } from '../../electron/drivers/scsi/sg/sg-native.ts';

const inquiry = Uint8Array.of(0x12, 0, 0, 0, 96, 0);
const testUnitReady = new Uint8Array(6);
const write6 = Uint8Array.of(0x0a, 0, 0, 0x10, 0, 0);

function refusedWith(code: string, run: () => unknown, message?: RegExp): void {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return;
  }
  assert.fail('it was accepted');
}

function answer(fields: Partial<SgAnswer> = {}): SgAnswer {
  return {
    status: 0,
    maskedStatus: 0,
    hostStatus: 0,
    driverStatus: 0,
    resid: 0,
    durationMs: 1,
    info: 0,
    sense: new Uint8Array(0),
    ...fields,
  };
}

test('a command maps to one data phase: none, to the device with its own bytes, from the device into a fresh buffer', () => {
  const none = sgRequest({ cdb: testUnitReady }, '/dev/sg3');
  assert.equal(none.direction, SgDirection.none);
  assert.equal(none.buffer, null);
  assert.equal(none.timeoutMs, sgDefaultTimeoutMs);

  const data = Uint8Array.of(1, 2, 3, 4);
  const out = sgRequest({ cdb: write6, dataOut: data, timeoutMs: 900_000 }, '/dev/sg3');
  assert.equal(out.direction, SgDirection.toDevice);
  assert.equal(out.buffer, data, 'the caller’s bytes go to the kernel as they are, not copied');
  assert.equal(out.timeoutMs, 900_000);

  const into = sgRequest({ cdb: inquiry, dataInLength: 96, timeoutMs: 0.5 }, '/dev/sg3');
  assert.equal(into.direction, SgDirection.fromDevice);
  assert.equal(into.buffer?.length, 96);
  assert.equal(into.timeoutMs, 1, 'sub-millisecond timeouts round up: 0 would mean no timeout to the kernel');
  assert.notEqual(into.cdb, inquiry, 'the CDB is copied, so a caller reusing its array cannot change a queued command');
  assert.deepEqual(into.cdb, inquiry);

  assert.equal(sgRequest({ cdb: inquiry, dataInLength: 8, timeoutMs: 2 ** 40 }, '/dev/sg3').timeoutMs, 0xffff_ffff);
  assert.equal(sgRequest({ cdb: write6, dataOut: new Uint8Array(0) }, '/dev/sg3').direction, SgDirection.none);
});

test('a command SG_IO cannot carry is refused before the kernel sees it', () => {
  refusedWith('bad-request', () => sgRequest({ cdb: new Uint8Array(0) }, '/dev/sg3'), /\/dev\/sg3: a CDB of 0 bytes/);
  refusedWith('bad-request', () => sgRequest({ cdb: new Uint8Array(253) }, '/dev/sg3'));
  refusedWith(
    'bad-request',
    () => sgRequest({ cdb: write6, dataOut: Uint8Array.of(1), dataInLength: 4 }, '/dev/sg3'),
    /both a data-out and a data-in/,
  );
  refusedWith('bad-request', () => sgRequest({ cdb: inquiry, dataInLength: -1 }, '/dev/sg3'));
  refusedWith('bad-request', () => sgRequest({ cdb: inquiry, dataInLength: 1.5 }, '/dev/sg3'));
  refusedWith('bad-request', () => sgRequest({ cdb: inquiry, timeoutMs: 0 }, '/dev/sg3'), /timeout of 0 ms/);
  refusedWith('bad-request', () => sgRequest({ cdb: inquiry, timeoutMs: Number.NaN }, '/dev/sg3'));
});

test('the answer: data cut to what came (resid), sense only with a CHECK CONDITION, other statuses passed on', () => {
  const request = sgRequest({ cdb: inquiry, dataInLength: 96 }, '/dev/sg3');
  request.buffer?.set([1, 0x80, 5, 2, 91], 0);
  const good = sgResult(answer({ resid: 60 }), request, '/dev/sg3');
  assert.equal(good.status, 0);
  assert.equal(good.residual, 60);
  assert.deepEqual([...good.data.subarray(0, 5)], [1, 0x80, 5, 2, 91]);
  assert.equal(good.data.length, 36);
  assert.equal(good.sense, null);

  const fixedSense = Uint8Array.of(0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0, 0, 0, 0, 0);
  const check = sgResult(answer({ status: 2, maskedStatus: 1, driverStatus: 0x08, sense: fixedSense, resid: 96 }), request, '/dev/sg3');
  assert.equal(check.status, 2, 'a CHECK CONDITION is an answer, not a throw');
  assert.deepEqual(check.sense, fixedSense);
  assert.equal(check.data.length, 0);

  assert.equal(sgResult(answer({ status: 2 }), request, '/dev/sg3').sense, null, 'no sense bytes written: null, as the seam says');
  assert.equal(sgResult(answer({ status: 0x08 }), request, '/dev/sg3').status, 0x08, 'BUSY goes to the command layer');
  assert.equal(sgResult(answer({ resid: -4 }), request, '/dev/sg3').data.length, 96, 'an overrun never grows the data');
  assert.equal(sgResult(answer({ resid: 1000 }), request, '/dev/sg3').data.length, 0);

  const write = sgRequest({ cdb: write6, dataOut: new Uint8Array(4096) }, '/dev/sg4');
  const written = sgResult(answer({ resid: 0 }), write, '/dev/sg4');
  assert.equal(written.data.length, 0, 'a data-out command brings no data in');
  assert.equal(written.residual, 0);
});

test('host and driver failures are the transport’s: unavailable, naming the device and the command', () => {
  const request = sgRequest({ cdb: inquiry, dataInLength: 96, timeoutMs: 30_000 }, '/dev/sg3');
  refusedWith(
    'unavailable',
    () => sgResult(answer({ hostStatus: 0x03 }), request, '/dev/sg3'),
    /\/dev\/sg3: command 12h did not finish within 30 s/,
  );
  refusedWith('unavailable', () => sgResult(answer({ driverStatus: 0x06 }), request, '/dev/sg3'), /did not finish within 30 s/);
  refusedWith(
    'unavailable',
    () => sgResult(answer({ hostStatus: 0x01 }), request, '/dev/sg3'),
    /no connection to the device \(DID_NO_CONNECT\)/,
  );
  refusedWith('unavailable', () => sgResult(answer({ hostStatus: 0x0e }), request, '/dev/sg3'), /DID_TRANSPORT_DISRUPTED/);
  refusedWith('unavailable', () => sgResult(answer({ hostStatus: 0x7f }), request, '/dev/sg3'), /host status 127/);
  refusedWith('unavailable', () => sgResult(answer({ driverStatus: 0x04 }), request, '/dev/sg3'), /DRIVER_ERROR/);
});

test('a failed ioctl is named by its errno', () => {
  const request = sgRequest({ cdb: inquiry, dataInLength: 1 << 20 }, '/dev/sg5');
  const failed = (name: keyof typeof constants.errno) => Object.assign(new Error('SG_IO: x'), { errno: constants.errno[name] });
  const gone = sgIoctlError(failed('ENODEV'), request, '/dev/sg5');
  assert.equal(gone.code, 'unavailable');
  assert.match(gone.message, /^\/dev\/sg5: command 12h failed: the device is gone \(ENODEV\)/);
  const big = sgIoctlError(failed('ENOMEM'), request, '/dev/sg5');
  assert.equal(big.code, 'bad-request');
  assert.match(big.message, /1048576 bytes may exceed what the adapter takes/);
  assert.equal(sgIoctlError(failed('EPERM'), request, '/dev/sg5').code, 'unavailable');
  assert.equal(sgIoctlError(failed('ECANCELED'), request, '/dev/sg5').code, 'cancelled');
  assert.match(sgIoctlError(failed('EIO'), request, '/dev/sg5').message, /SG_IO returned EIO/);
  assert.match(sgIoctlError(new Error('odd'), request, '/dev/sg5').message, /an unknown error/);
  assert.equal(errnoName(null), 'an unknown error');
  assert.equal(errnoName(Object.assign(new Error('x'), { code: 'EACCES' })), 'EACCES', 'a Node fs error is named by its code');
});

test('any answer the kernel could give becomes a result or one LifeboatError, never a TypeError', () => {
  const requests: SgRequest[] = [
    sgRequest({ cdb: inquiry, dataInLength: 64 }, '/dev/sg3'),
    sgRequest({ cdb: write6, dataOut: new Uint8Array(32) }, '/dev/sg3'),
    sgRequest({ cdb: testUnitReady }, '/dev/sg3'),
  ];
  fc.assert(
    fc.property(
      fc.constantFrom(...requests),
      fc.record({
        status: fc.integer({ min: 0, max: 255 }),
        maskedStatus: fc.integer({ min: 0, max: 127 }),
        hostStatus: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })),
        driverStatus: fc.oneof(fc.constantFrom(0, 8), fc.integer({ min: 0, max: 0xffff })),
        resid: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        durationMs: fc.nat(),
        info: fc.nat(),
        sense: fc.uint8Array({ maxLength: 252 }),
      }),
      (request, fields) => {
        try {
          const result = sgResult(fields, request, '/dev/sg3');
          assert.ok(result.data.length + result.residual === (request.direction === SgDirection.fromDevice ? request.buffer?.length : 0));
          assert.ok(result.sense === null || result.status !== 0);
        } catch (error) {
          assert.ok(error instanceof LifeboatError, String(error));
          assert.equal(error.code, 'unavailable');
        }
      },
    ),
  );
});

test('sg: addresses name absolute device paths, each once', () => {
  assert.deepEqual(parseSgUrl('sg:/dev/sg3'), ['/dev/sg3']);
  assert.deepEqual(parseSgUrl(' sg:/dev/sg3, /dev/sg4,/dev/tape/by-id/scsi-35000 '), [
    '/dev/sg3',
    '/dev/sg4',
    '/dev/tape/by-id/scsi-35000',
  ]);
  refusedWith('bad-request', () => parseSgUrl('/dev/sg3'), /not an sg: address; write sg:\/dev\/sg3,\/dev\/sg4/);
  refusedWith('bad-request', () => parseSgUrl('sg:'), /"" is not an absolute device path/);
  refusedWith('bad-request', () => parseSgUrl('sg:/dev/sg3,'), /is not an absolute device path/);
  refusedWith('bad-request', () => parseSgUrl('sg:dev/sg3'));
  refusedWith('bad-request', () => parseSgUrl('sg:/dev/sg3,/dev/sg3'), /names \/dev\/sg3 twice/);
  refusedWith('bad-request', () => parseSgUrl('iscsi://127.0.0.1/iqn.x'));
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (text) => {
      for (const url of [text, `sg:${text}`, `sg:/${text}`]) {
        try {
          for (const path of parseSgUrl(url)) assert.ok(path.startsWith('/') && !path.includes(','));
        } catch (error) {
          assert.ok(error instanceof LifeboatError, String(error));
        }
      }
    }),
  );
});
