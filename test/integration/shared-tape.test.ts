// Tape when engines share a PostgreSQL catalog (a real server started here). One real library
// (tgt's SMC changer and SSC drives over loopback iSCSI) driven by two engines: a drive one engine
// uses is never taken by the other, even a drive still empty while its tape is on the way; a tape
// left in a drive by an engine that let go of it is taken over where it stands. A tape restore
// whose engine is killed while it waits for a tape is interrupted by the other engine, saying what
// happens instead, and its prompt expires.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';
import type { TapeDrive, TapeLibrary } from '../../electron/drivers/tape/tape-driver.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { makeVmFolder, runJob, tempDir, until, writeMixedRaw } from '../helpers/env.ts';
import { cli, startServe } from '../helpers/serve-process.ts';
import { tapesOf } from '../helpers/tape.ts';
import { sharedHome } from '../helpers/shared-homes.ts';
import { rejectsWith } from '../helpers/tgt-scsi-library.ts';

const { skip: noPostgres } = postgresForThisFile();
const noTgt = (await tgtUnavailable()) ?? false;
const BARCODES = ['SHR001', 'SHR002', 'SHR003'];

async function sharedEngine(dir: string, name: string, url: string, repository: string | null = null): Promise<Engine> {
  const home = await sharedHome(dir, name, url, repository);
  const engine = await openServedEngine({ home, workerThreads: 1, shared: true });
  after(() => engine.close());
  return engine;
}

/** Two shared engines, both using the tgt library A added to the catalog. */
async function twoEnginesOneLibrary(): Promise<{ a: TapeLibrary; b: TapeLibrary; tgt: TgtLibrary }> {
  const dir = await tempDir('lifeboat-shared-tape-');
  const tgt = await startTgtLibrary(join(dir, 'tgt'), {
    drives: 2,
    slots: 6,
    mailslots: 1,
    tapes: BARCODES.map((barcode) => ({ barcode, sizeMiB: 16 })),
  });
  after(() => tgt.stop());
  const url = await freshPostgresDatabase();
  const engineA = await sharedEngine(dir, 'home-a', url);
  const engineB = await sharedEngine(dir, 'home-b', url);
  await engineA.tape.addLibrary({ url: tgt.url, name: 'shared' }, 'test');
  // B finds the library in the catalog they share, and connects on its first use.
  assert.equal((await engineB.tape.listLibraries()).inUse, 'shared');
  return { a: await engineA.tape.library(), b: await engineB.tape.library(), tgt };
}

test(
  'a drive one engine uses is never taken by the other; a tape let go of is taken over where it stands',
  { skip: noPostgres || noTgt },
  async () => {
    const { a, b } = await twoEnginesOneLibrary();
    const first = await a.load('SHR001', 'job A');
    // The tape is in a drive: without the hold, B would take that drive over and rewind it under A.
    await rejectsWith(b.load('SHR001', 'job B'), 'conflict', /SHR001 is in drive \d, in use by another engine/);
    const second = await b.load('SHR002', 'job B');
    assert.notEqual(second.index, first.index);
    await rejectsWith(a.load('SHR003', 'job A2'), 'conflict', /every drive .* holds a tape or is in use/);
    await b.unload(second);
    // A let go of its drive with the tape still in it (an engine closing lets go the same way).
    const firstIndex = first.index;
    await (a as TapeLibrary & { close(): Promise<void> }).close();
    const takenOver = await b.load('SHR001', 'job B2');
    assert.equal(takenOver.index, firstIndex, 'taken over in the drive it was left in');
    assert.equal(takenOver.barcode, 'SHR001');
    await b.unload(takenOver);
    const inventory = await b.inventory();
    assert.ok(
      inventory.cartridges.every((cartridge) => cartridge.location.kind === 'slot'),
      'every tape back in a slot',
    );
  },
);

test('two engines loading and unloading at once each get a drive of their own, every round', { skip: noPostgres || noTgt }, async () => {
  const { a, b } = await twoEnginesOneLibrary();
  const round = async (library: TapeLibrary, barcode: string, owner: string): Promise<number> => {
    const drive: TapeDrive = await library.load(barcode, owner);
    const index = drive.index;
    await library.unload(drive);
    return index;
  };
  for (let turn = 0; turn < 6; turn++) {
    // Both see both drives empty: the one that chose a drive first holds it, the other takes the next.
    const [indexA, indexB] = await Promise.all([round(a, 'SHR001', `A${turn}`), round(b, 'SHR002', `B${turn}`)]);
    assert.ok(indexA >= 0 && indexB >= 0, `round ${turn}`);
  }
  const inventory = await a.inventory();
  assert.deepEqual(
    inventory.drives.map((drive) => drive.barcode),
    [null, null],
  );
});

test(
  'a tape restore whose engine is killed while it waits for a tape is interrupted by the other engine, and its prompt expires',
  { skip: noPostgres },
  async () => {
    const dir = await tempDir('lifeboat-shared-tape-');
    const url = await freshPostgresDatabase();
    const setup = await sharedEngine(dir, 'home-a', url);
    await writeMixedRaw(join(dir, 'reel.raw'), 4, 9);
    await mkdir(join(dir, 'reel'));
    await makeVmFolder(join(dir, 'reel'), 'reel', join(dir, 'reel.raw'), 'monolithicFlat');
    assert.equal((await runJob(setup, await setup.backups.start(join(dir, 'reel'), 'test'))).state, 'succeeded');
    await setup.tape.createLibrary({
      slots: 4,
      drives: 1,
      mailslots: 1,
      tapes: 2,
      capacityBytes: 64 << 20,
      timeScale: 0.001,
      rateScale: 1,
    });
    const toTape = await runJob(setup, await setup.tape.startBackup(['reel'], 'weekly', 'latest', 'test'));
    assert.equal(toTape.state, 'succeeded', toTape.error ?? '');
    const [barcode] = tapesOf(toTape).map((tape) => tape.barcode);
    assert.ok(barcode);
    await setup.tape.ejectTape(barcode, 'test');
    await setup.close();

    const dying = await startServe(join(dir, 'home-a'), '--shared');
    const other = await sharedEngine(dir, 'home-b', url, join(dir, 'home-a', 'repositories', 'default'));
    const target = join(dir, 'out');
    const started = spawnSync(
      process.execPath,
      [cli, '--home', join(dir, 'home-a'), '--json', 'restore', 'tape', 'reel', '--target', `local:${target}`, '--detach'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(started.status, 0, started.stderr);
    // The other engine sees the prompt A raised, in the catalog they share.
    const prompt = await until(
      'the insert-tape prompt',
      () => other.tape.prompts.list(true).find((open) => open.barcode === barcode),
      30_000,
      100,
    );
    const [jobId] = prompt.jobIds;
    assert.ok(jobId);
    await dying.kill('SIGKILL');
    const job = await until(
      'the restore interrupted',
      () => (other.catalog.getJob(jobId)?.state === 'interrupted' ? other.catalog.getJob(jobId) : undefined),
      30_000,
      200,
    );
    assert.match(
      job?.error ?? '',
      /stopped while this job ran; a tape-restore job reads or writes tapes through its engine's own session with the library and is not taken over; .* run again from any engine that reaches the same library$/,
    );
    assert.equal(other.catalog.tapes.prompt(prompt.id)?.state, 'expired', 'nobody waits for its prompt any more');
  },
);
