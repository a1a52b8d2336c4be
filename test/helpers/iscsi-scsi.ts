// What the iSCSI tests share: a tgt library and sessions stopped after the file, tgt's target
// settings, raw CDBs (the command layer proper is another branch's: INQUIRY, MOVE MEDIUM,
// variable-block WRITE(6)/READ(6), REWIND), a TEST UNIT READY loop that clears the unit attentions
// a new session or a newly loaded tape raises, and the check of a refusal.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { IscsiSession, type IscsiOptions } from '../../electron/drivers/scsi/iscsi/index.ts';
import { ScsiStatus, type ScsiDevice } from '../../electron/drivers/scsi/scsi-device.ts';
import { startTgtLibrary, type TgtLibrary, type TgtLibrarySpec } from '../../scripts/peers/tgt.ts';

/** A tgt library in a temporary folder, stopped and removed after the test file. */
export async function tgtLibrary(name: string, spec: TgtLibrarySpec): Promise<TgtLibrary> {
  const dir = await mkdtemp(join(tmpdir(), `lifeboat-iscsi-${name}-`));
  const tgt = await startTgtLibrary(dir, spec);
  after(async () => {
    await tgt.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return tgt;
}

/** A target setting (ImmediateData, MaxQueueCmd, nop_interval…); new sessions see it. */
export function setTargetParam(tgt: TgtLibrary, name: string, value: string | number): Promise<string> {
  return tgt.admin(['--op', 'update', '--mode', 'target', '--tid', '1', '--name', name, '--value', String(value)]);
}

/** A session closed after the test file. */
export async function openSession(options: IscsiOptions): Promise<IscsiSession> {
  const session = await IscsiSession.connect(options);
  after(() => session.close());
  return session;
}

export async function refusal(code: string, promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LifeboatError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

export const cdb = {
  testUnitReady: () => Uint8Array.from([0x00, 0, 0, 0, 0, 0]),
  inquiry: (length: number) => Uint8Array.from([0x12, 0, 0, length >> 8, length & 0xff, 0]),
  rewind: () => Uint8Array.from([0x01, 0, 0, 0, 0, 0]),
  write6: (length: number) => Uint8Array.from([0x0a, 0, length >> 16, (length >> 8) & 0xff, length & 0xff, 0]),
  read6: (length: number) => Uint8Array.from([0x08, 0, length >> 16, (length >> 8) & 0xff, length & 0xff, 0]),
  moveMedium: (transport: number, source: number, destination: number) => {
    const bytes = Buffer.alloc(12);
    bytes[0] = 0xa5;
    bytes.writeUInt16BE(transport, 2);
    bytes.writeUInt16BE(source, 4);
    bytes.writeUInt16BE(destination, 6);
    return bytes;
  },
};

export const PERIPHERAL_NAMES: Record<number, string> = {
  0x00: 'DIRECT_ACCESS',
  0x01: 'SEQUENTIAL_ACCESS',
  0x08: 'MEDIA_CHANGER',
  0x0c: 'STORAGE_ARRAY_CONTROLLER',
};

export type Inquiry = { type: string; vendor: string; product: string; revision: string };

export async function inquiry(device: ScsiDevice): Promise<Inquiry> {
  const result = await device.execute({ cdb: cdb.inquiry(96), dataInLength: 96, attribute: 'simple' });
  assert.equal(result.status, ScsiStatus.good);
  const data = Buffer.from(result.data);
  const text = (from: number, to: number): string => data.subarray(from, to).toString('latin1').trimEnd();
  return {
    type: PERIPHERAL_NAMES[(data[0] as number) & 0x1f] ?? 'OTHER',
    vendor: text(8, 16),
    product: text(16, 32),
    revision: text(32, 36),
  };
}

/** TEST UNIT READY until GOOD: unit attentions (new nexus, medium changed) are reported once each. */
export async function untilReady(device: ScsiDevice): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    const result = await device.execute({ cdb: cdb.testUnitReady() });
    if (result.status === ScsiStatus.good) return;
  }
  assert.fail(`${device.address} did not become ready`);
}

export async function good(device: ScsiDevice, command: Parameters<ScsiDevice['execute']>[0]): Promise<Uint8Array> {
  const result = await device.execute(command);
  assert.equal(
    result.status,
    ScsiStatus.good,
    `status ${result.status}, sense ${result.sense ? Buffer.from(result.sense).toString('hex') : 'none'}`,
  );
  return result.data;
}

/** A block whose bytes say which block it is: a wrong or shifted read cannot pass. */
export function patterned(length: number, seed: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let at = 0; at + 4 <= length; at += 4) bytes.writeUInt32BE((at * 2654435761 + seed) >>> 0, at);
  return bytes;
}
