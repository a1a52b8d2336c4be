// A tgt library opened as a ScsiTapeLibrary over the project's iSCSI initiator, for the tests of
// the SCSI drive and library; and the one way those tests expect a refusal.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { IscsiSession } from '../../electron/drivers/scsi/iscsi/index.ts';
import { openScsiLibrary, type ScsiLibraryOptions, type ScsiTapeLibrary } from '../../electron/drivers/scsi/scsi-library.ts';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary, type TgtLibrarySpec } from '../../scripts/peers/tgt.ts';

export type TgtScsiLibrary = { tgt: TgtLibrary; session: IscsiSession; library: ScsiTapeLibrary; stop(): Promise<void> };

export async function openTgtScsiLibrary(spec: TgtLibrarySpec, options: Omit<ScsiLibraryOptions, 'close'>): Promise<TgtScsiLibrary> {
  const dir = await mkdtemp(join(tmpdir(), 'lifeboat-scsi-'));
  const tgt = await startTgtLibrary(dir, spec);
  try {
    const session = await IscsiSession.connect({ host: tgt.host, port: tgt.port, targetName: tgt.targetName });
    const library = await openScsiLibrary(await session.devices(), { ...options, close: () => session.close() });
    return {
      tgt,
      session,
      library,
      stop: async () => {
        await library.close().catch(() => undefined);
        await tgt.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await tgt.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Why these tests cannot run here (tgt missing), or false. */
export const tgtSkip: string | false = (await tgtUnavailable()) ?? false;

/** The library of a test file: opened before its tests, stopped after them (its fields are set
 * once before() has run). */
export function useTgtScsiLibrary(spec: TgtLibrarySpec, options: Omit<ScsiLibraryOptions, 'close'>): TgtScsiLibrary {
  const lab = {} as TgtScsiLibrary;
  before(async () => {
    if (tgtSkip === false) Object.assign(lab, await openTgtScsiLibrary(spec, options));
  });
  after(async () => {
    await lab.stop?.();
  });
  return lab;
}

/** Asserts that `work` fails with a LifeboatError of `code` whose sentence matches; returns it. */
export async function rejectsWith(work: Promise<unknown>, code: string, pattern: RegExp): Promise<LifeboatError> {
  const error = await work.then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof LifeboatError, `a LifeboatError, not ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, pattern);
  return error;
}
