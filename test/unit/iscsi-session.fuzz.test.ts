// The session fed damaged answers and what tgt cannot be made to send: a loopback target replays
// tgt's recorded login, then answers a command with a recorded Data-In, SCSI Response or R2T (its
// ITT set to the command's) with bits flipped. The command ends with a result or one LifeboatError —
// never a TypeError or RangeError in any form — within its timeout; a damaged login answer ends the
// login the same way. An async "logout requested" makes the session log out and in again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { IscsiSession } from '../../electron/drivers/scsi/iscsi/index.ts';
import { newBhs, NO_TAG, Opcode } from '../../electron/drivers/scsi/iscsi/pdu.ts';
import { TGT_PDUS } from '../helpers/iscsi-captured.ts';
import { hex, startReplayTarget, withItt } from '../helpers/iscsi-replay.ts';

const answers = [...TGT_PDUS.dataIn!, ...TGT_PDUS.scsiResponseCheckCondition!, ...TGT_PDUS.r2t!].map(hex);
const target = await startReplayTarget();
const options = { host: '127.0.0.1', port: target.port, targetName: target.targetName, reconnectAttempts: 0 };

test('a damaged answer to a command ends it with a result or one LifeboatError, in bounded time', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...answers),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      async (answer, flips, write) => {
        target.answer = (itt) => {
          const damaged = withItt(answer, itt);
          for (const [at, flip] of flips) damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ flip;
          return damaged;
        };
        const session = await IscsiSession.connect(options);
        const command = write
          ? { cdb: Uint8Array.from([0x0a, 0, 0, 0x80, 0, 0]), dataOut: Buffer.alloc(32768, 1), timeoutMs: 300 }
          : { cdb: Uint8Array.from([0x12, 0, 0, 0, 96, 0]), dataInLength: 96, timeoutMs: 300 };
        const started = Date.now();
        try {
          const result = await session.device(1).execute(command);
          assert.ok(result.status >= 0 && result.status <= 255);
          assert.ok(result.data.length <= 96 && result.residual >= 0);
        } catch (error) {
          assert.ok(error instanceof LifeboatError, `not a LifeboatError: ${String(error)}`);
          assert.doesNotMatch(error.message, /TypeError|RangeError|undefined/);
        } finally {
          await session.close();
        }
        assert.ok(Date.now() - started < 5000);
      },
    ),
    { numRuns: 60 },
  );
});

test('a damaged login answer ends the login with a session or one LifeboatError, in bounded time', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
      async (damagedStep, flips) => {
        target.loginAnswer = (step, recorded) => {
          if (step !== damagedStep) return recorded;
          const damaged = Buffer.from(recorded);
          for (const [at, flip] of flips) damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ flip;
          return damaged;
        };
        const started = Date.now();
        try {
          const session = await IscsiSession.connect({ ...options, connectTimeoutMs: 300 });
          await session.close();
        } catch (error) {
          assert.ok(error instanceof LifeboatError, `not a LifeboatError: ${String(error)}`);
          assert.doesNotMatch(error.message, /TypeError|RangeError|undefined/);
        }
        assert.ok(Date.now() - started < 5000);
      },
    ),
    { numRuns: 40 },
  );
  target.loginAnswer = (_step, recorded) => recorded;
});

test('an async "logout requested" is answered with a logout and a new login; commands then work', async () => {
  const inquiry = hex(TGT_PDUS.dataIn![1]!);
  target.answer = (itt) => withItt(inquiry, itt);
  const session = await IscsiSession.connect({ ...options, reconnectAttempts: 2 });
  const logouts = target.logouts;
  const message = newBhs(Opcode.asyncMessage, 0x80);
  message.writeUInt32BE(NO_TAG, 16);
  message[36] = 1; // the target requests a logout
  message.writeUInt16BE(1, 40); // Parameter3: Time2Retain
  target.push(message);
  for (let waited = 0; session.logins < 2; waited += 50) {
    assert.ok(waited < 10_000, 'no new login after the logout request');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(target.logouts, logouts + 1);
  const result = await session.device(1).execute({ cdb: Uint8Array.from([0x12, 0, 0, 0, 96, 0]), dataInLength: 96 });
  assert.equal(Buffer.from(result.data.subarray(16, 28)).toString('latin1'), 'VIRTUAL-TAPE');
  await session.close();
});

test('a login the target never answers is cancelled by the signal', async () => {
  target.loginAnswer = () => Buffer.alloc(0);
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(IscsiSession.connect({ ...options, connectTimeoutMs: 10_000, signal: controller.signal }), (error: unknown) => {
      assert.ok(error instanceof LifeboatError && error.code === 'cancelled', String(error));
      return true;
    });
  } finally {
    target.loginAnswer = (_step, recorded) => recorded;
  }
});
