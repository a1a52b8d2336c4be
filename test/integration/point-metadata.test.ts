// A point's metadata is as protected as its blocks: a changed, deleted, unreadable or impossible
// manifest is named (point and reason) by `points`, `verify` and every restore, before a job or
// a file exists; the other points of the chain still restore bit-identical where their blocks
// do not depend on it. Points made before hashes were recorded keep restoring.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { osCaller } from '../../electron/auth/peer.ts';
import { callContext } from '../../electron/rpc/dispatch.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { resolvePoint } from '../../electron/repository/chain.ts';
import { manifestSha256, MANIFEST_HASH_FILE } from '../../electron/repository/manifest-seal.ts';
import type { Manifest } from '../../electron/repository/manifest.ts';
import { changeRaw, makeVmFolder, openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const VM = 'gamma';
const POINTS = 4;

type Lab = { dir: string; home: string; engine: Engine; vmId: string; source: string; raw: string; snapshots: string[] };

/** A VM backed up POINTS times, each generation's disk kept to compare restores against. */
async function chainOfPoints(engine?: (home: string) => Promise<Engine>): Promise<Lab> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const opened = engine ? await engine(home) : await openEngine(home);
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'disk.raw');
  await writeMixedRaw(raw, 8);
  const snapshots: string[] = [];
  for (let generation = 1; generation <= POINTS; generation++) {
    if (generation > 1) await changeRaw(raw, generation);
    await makeVmFolder(source, VM, raw, 'monolithicFlat');
    snapshots.push(join(dir, `as-of-${generation}.raw`));
    await copyFile(raw, snapshots.at(-1) as string);
    const job = await runJob(opened, await opened.backups.start(source, 'test'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
  }
  return { dir, home, engine: opened, vmId: opened.lookup.resolveVm(VM).id, source, raw, snapshots };
}

async function folderOf(lab: Pick<Lab, 'engine' | 'vmId'>, sequence: number): Promise<string> {
  const entry = (await lab.engine.repository.scanPoints(lab.vmId)).find((candidate) => candidate.sequence === sequence);
  assert.ok(entry, `point ${sequence} exists`);
  return lab.engine.repository.pointFolder({ vmId: lab.vmId, sequence, id: entry.id });
}

/** Edits a point's manifest as an attacker or bit rot would; `rehash` also rewrites its side file. */
async function editManifest(folder: string, edit: (manifest: Manifest) => void, rehash = false): Promise<void> {
  const manifest = JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8')) as Manifest;
  edit(manifest);
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2));
  if (rehash) await writeFile(join(folder, MANIFEST_HASH_FILE), `${manifestSha256(manifest)}\n`);
}

async function healthOf(engine: Engine, vm: string): Promise<Map<number, { state: string; reason: string | null }>> {
  const points = await engine.handlers['points.list']({ vm }, callContext(osCaller()));
  return new Map(points.map((point) => [point.sequence, point.health]));
}

async function restoreAndCompare(lab: Lab, sequence: number): Promise<void> {
  const target = join(lab.dir, `restored-${sequence}-${Math.random().toString(16).slice(2)}`);
  const job = await runJob(
    lab.engine,
    await lab.engine.restores.start({ vm: VM, point: String(sequence), target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.match(
    qemuImg('compare', '-f', 'raw', '-F', 'vmdk', lab.snapshots[sequence - 1] as string, join(target, `${VM}.vmdk`)),
    /identical/,
  );
}

async function refusedBeforeAnything(lab: Lab, sequence: number, message: RegExp): Promise<void> {
  const target = join(lab.dir, `refused-${sequence}`);
  const jobsBefore = lab.engine.catalog.listJobs().length;
  await assert.rejects(
    lab.engine.restores.start({ vm: VM, point: String(sequence), target: { kind: 'local', path: target } }, 'test'),
    (error: unknown) => {
      assert.ok(error instanceof LifeboatError, String(error));
      assert.equal(error.code, 'corrupt-backup');
      assert.match(error.message, message);
      return true;
    },
  );
  assert.equal(lab.engine.catalog.listJobs().length, jobsBefore, 'no job was made');
  await assert.rejects(stat(target), { code: 'ENOENT' });
}

test('a changed .vmx in one manifest: that point is named and refused, the others restore identical', async () => {
  const lab = await chainOfPoints();
  await editManifest(await folderOf(lab, 2), (manifest) => {
    manifest.vmConfig.text = manifest.vmConfig.text.replace('numvcpus = "2"', 'numvcpus = "64"');
  });
  const health = await healthOf(lab.engine, VM);
  assert.deepEqual([...health.keys()].sort(), [1, 2, 3, 4]);
  assert.equal(health.get(2)?.state, 'damaged');
  assert.match(health.get(2)?.reason ?? '', /manifest\.json does not match the SHA-256 the catalog recorded/);
  for (const sequence of [1, 3, 4]) assert.deepEqual(health.get(sequence), { state: 'ok', reason: null });
  await refusedBeforeAnything(lab, 2, new RegExp(`^restore point 2 of ${VM} is damaged: its manifest\\.json does not match`));
  // Points 3 and 4 use point 2's blocks, through their own manifests' record of its maps.
  for (const sequence of [1, 3, 4]) await restoreAndCompare(lab, sequence);

  const verify = await runJob(lab.engine, await lab.engine.verifies.start(VM, undefined, 'test'));
  assert.equal(verify.state, 'failed');
  assert.match(verify.error ?? '', /1 of 4 point\(s\) of .* are damaged: point 2: its manifest\.json does not match/);
  assert.deepEqual(
    (verify.result?.results as { sequence: number; state: string }[]).map(({ sequence, state }) => [sequence, state]),
    [
      [1, 'ok'],
      [2, 'damaged'],
      [3, 'ok'],
      [4, 'ok'],
    ],
  );

  // The CLI's points table marks it too (it talks to this engine over the home's socket, so the
  // call must not block this process).
  const { stdout: table } = await promisify(execFile)(process.execPath, ['bin/lifeboat.js', '--home', lab.home, 'points', VM], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const row = table.split('\n').find((line) => line.startsWith('2 '));
  assert.match(row ?? '', /damaged: its manifest\.json does not match/);
});

test('a forger who rewrites the side file too is caught by the catalog; without the catalog, by the side file', async () => {
  const lab = await chainOfPoints();
  await editManifest(
    await folderOf(lab, 3),
    (manifest) => {
      manifest.vmConfig.text = manifest.vmConfig.text.replace(`displayName = "${VM}"`, 'displayName = "evil"');
    },
    true,
  );
  assert.match(
    (await healthOf(lab.engine, VM)).get(3)?.reason ?? '',
    /does not match the SHA-256 the catalog recorded when the point was made/,
  );
  await refusedBeforeAnything(lab, 3, /restore point 3 of gamma is damaged/);
  // A repository read with no catalog record (a rebuilt catalog): the side file still speaks.
  const bare = lab.engine.repository.withRecordedHashes(() => null);
  await editManifest(await folderOf(lab, 4), (manifest) => {
    manifest.stats.storedBytes += 1;
  });
  await assert.rejects(resolvePoint(bare, lab.vmId, (await bare.scanPoints(lab.vmId))[3]?.id ?? ''), {
    code: 'corrupt-backup',
    message: /restore point 4 of gamma is damaged: its manifest\.json does not match the SHA-256 in manifest\.sha256/,
  });
  await restoreAndCompare(lab, 2);
});

test('a deleted, an unreadable and a missing-hash manifest each name the point; the rest restore', async () => {
  const lab = await chainOfPoints();
  await rm(join(await folderOf(lab, 2), 'manifest.json'));
  const three = await folderOf(lab, 3);
  await rm(join(three, 'manifest.json'));
  await mkdir(join(three, 'manifest.json')); // read fails with EISDIR, as a bad sector would with EIO
  await rm(join(await folderOf(lab, 4), MANIFEST_HASH_FILE));
  const health = await healthOf(lab.engine, VM);
  assert.equal(health.get(1)?.state, 'ok');
  assert.match(health.get(2)?.reason ?? '', /its manifest\.json is missing/);
  assert.match(health.get(3)?.reason ?? '', /its manifest\.json cannot be read \(EISDIR\)/);
  assert.match(health.get(4)?.reason ?? '', /its manifest\.sha256 is missing/);
  await refusedBeforeAnything(lab, 2, /restore point 2 of gamma is damaged: its manifest\.json is missing/);
  await refusedBeforeAnything(lab, 3, /restore point 3 of gamma is damaged: its manifest\.json cannot be read/);
  await refusedBeforeAnything(lab, 4, /restore point 4 of gamma is damaged: its manifest\.sha256 is missing/);
  await restoreAndCompare(lab, 1);

  // A whole point folder gone: `points` says so, and so do the points that need its files.
  await rm(await folderOf(lab, 1), { recursive: true });
  const after = await healthOf(lab.engine, VM);
  assert.match(after.get(1)?.reason ?? '', /its folder is missing from the repository/);

  // The next backup never reuses a damaged point's number and depends on no damaged point: with
  // no healthy point left to build on, point 5 is a new full point.
  await changeRaw(lab.raw, 9);
  await makeVmFolder(lab.source, VM, lab.raw, 'monolithicFlat');
  const backup = await runJob(lab.engine, await lab.engine.backups.start(lab.source, 'test'));
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  assert.equal(backup.result?.sequence, 5);
  assert.equal(backup.result?.kind, 'full');
  lab.snapshots[4] = join(lab.dir, 'as-of-5.raw');
  await copyFile(lab.raw, lab.snapshots[4]);
  await restoreAndCompare(lab, 5);
});

test('an impossible capacity (2^50 bytes), even with every hash rewritten to match, is refused naming it', async () => {
  const lab = await chainOfPoints();
  const folder = await folderOf(lab, 2);
  await editManifest(
    folder,
    (manifest) => {
      (manifest.disks[0] as Manifest['disks'][number]).capacity = 2 ** 50;
    },
    true,
  );
  const bare = lab.engine.repository.withRecordedHashes(() => null);
  const entry = (await bare.scanPoints(lab.vmId))[1];
  assert.match(entry?.damage ?? '', /its manifest is impossible: disk scsi0:0 has an impossible capacity of 1125899906842624 bytes/);
  await editManifest(
    folder,
    (manifest) => {
      (manifest.disks[0] as Manifest['disks'][number]).capacity = 8 * 1024 * 1024 + 100;
    },
    true,
  );
  assert.match((await bare.scanPoints(lab.vmId))[1]?.damage ?? '', /not whole 512-byte sectors/);
  await restoreAndCompare(lab, 3);
});

test('damaged manifests, forged or not, never escape as another error and never pass as healthy', async () => {
  const lab = await chainOfPoints();
  const folder = await folderOf(lab, 3);
  const original = await readFile(join(folder, 'manifest.json'));
  const bare = lab.engine.repository.withRecordedHashes(() => null);
  const id = (await bare.scanPoints(lab.vmId))[2]?.id as string;
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.boolean(),
      async (edits, rehash) => {
        const damaged = Buffer.from(original);
        for (const [at, xor] of edits) damaged[at] = (damaged[at] as number) ^ xor;
        await writeFile(join(folder, 'manifest.json'), damaged);
        let forged: unknown = null;
        try {
          forged = JSON.parse(damaged.toString('utf8'));
        } catch {
          forged = null;
        }
        if (rehash && forged !== null) await writeFile(join(folder, MANIFEST_HASH_FILE), `${manifestSha256(forged)}\n`);
        const same = forged !== null && manifestSha256(forged) === manifestSha256(JSON.parse(original.toString('utf8')));
        const entry = (await lab.engine.repository.scanPoints(lab.vmId))[2];
        // With the catalog's record, only a change that keeps the manifest the same passes.
        assert.equal(entry?.damage === null, same, entry?.damage ?? 'healthy');
        // With no record at all (forged side file), the manifest passes only if it makes sense,
        // and then resolving gives a point or one clear error.
        try {
          await resolvePoint(bare, lab.vmId, id);
        } catch (error) {
          assert.ok(error instanceof LifeboatError, `unexpected ${String(error)}`);
        }
        await writeFile(join(folder, MANIFEST_HASH_FILE), `${manifestSha256(JSON.parse(original.toString('utf8')))}\n`);
      },
    ),
    { numRuns: 60 },
  );
  await writeFile(join(folder, 'manifest.json'), original);
  await restoreAndCompare(lab, 3);
});

/** Opens engines on any home and keeps them, so a test that reopens homes can close them all. */
function engineOpener(): { opened: Engine[]; open: (home: string) => Promise<Engine> } {
  const opened: Engine[] = [];
  return {
    opened,
    open: async (home) => {
      const engine = await openServedEngine({ home, workerThreads: 2 });
      opened.push(engine);
      return engine;
    },
  };
}

test('points made before hashes were recorded keep restoring; their hash is adopted at first open, and later changes are caught', async () => {
  const { opened, open } = engineOpener();
  const lab = await chainOfPoints(open);
  try {
    await legacyChain(lab, open);
  } finally {
    for (const engine of opened) await engine.close().catch(() => undefined);
  }
});

async function legacyChain(lab: Lab, open: (home: string) => Promise<Engine>): Promise<void> {
  // Make the chain as the previous version left it: no side files, no recorded chain, no hash
  // in the catalog.
  for (let sequence = 1; sequence <= POINTS; sequence++) {
    const folder = await folderOf(lab, sequence);
    await editManifest(folder, (manifest) => {
      delete manifest.dependsOn;
    });
    await rm(join(folder, MANIFEST_HASH_FILE));
  }
  await lab.engine.close();
  const db = new Database(join(lab.home, 'catalog.sqlite'));
  db.prepare('UPDATE restore_points SET manifest_sha256 = NULL').run();
  db.close();
  const engine = await open(lab.home);
  const reopened: Lab = { ...lab, engine };
  const health = await healthOf(engine, VM);
  for (let sequence = 1; sequence <= POINTS; sequence++) assert.equal(health.get(sequence)?.state, 'legacy', `point ${sequence}`);
  for (let sequence = 1; sequence <= POINTS; sequence++) await restoreAndCompare(reopened, sequence);
  // A legacy point reads its parents' manifests: damage to point 2 now blocks 3 and 4 too.
  await editManifest(await folderOf(reopened, 2), (manifest) => {
    manifest.vmConfig.text += 'extra = "line"\n';
  });
  const after = await healthOf(engine, VM);
  assert.match(after.get(2)?.reason ?? '', /does not match the SHA-256 the catalog recorded/);
  assert.match(after.get(3)?.reason ?? '', /it needs point 2, which is damaged/);
  await refusedBeforeAnything(reopened, 4, /restore point 4 of gamma needs point 2, which is damaged: its manifest\.json does not match/);
  await restoreAndCompare(reopened, 1);
  // A new backup builds on a chain it can trust: point 5 is a full point of its own.
  const backup = await runJob(engine, await engine.backups.start(lab.source, 'test'));
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  assert.deepEqual([backup.result?.sequence, backup.result?.kind], [5, 'full']);
  assert.equal((await healthOf(engine, VM)).get(5)?.state, 'ok');
}

test('a point damaged in the primary restores from a copy whose manifest still matches; a damaged point is never copied', async () => {
  const lab = await chainOfPoints();
  const api = inProcessApi(lab.engine);
  await api.invoke('settings.set', { copyPolicy: 'lrs' });
  await api.invoke('repos.add', { name: 'near', path: join(lab.dir, 'near'), region: 'primary', zone: 'zone-2' });
  await api.invoke('repos.add', { name: 'zoned', path: join(lab.dir, 'zoned'), region: 'primary', zone: 'zone-3' });
  // Point 4 is damaged before the copy job: it is not copied, the others are.
  await editManifest(await folderOf(lab, 4), (manifest) => {
    manifest.vmName = 'renamed';
  });
  const copy = await runJob(lab.engine, (await api.invoke('copies.run', {})).job);
  assert.equal(copy.result?.copied, 6, 'points 1 to 3, to two repositories');
  await assert.rejects(
    stat(join(lab.dir, 'near', 'vms', lab.vmId, 'points', `000004-${(await lab.engine.repository.pointFolders(lab.vmId))[3]?.id}`)),
    { code: 'ENOENT' },
  );

  await editManifest(
    await folderOf(lab, 2),
    (manifest) => {
      manifest.vmConfig.text = manifest.vmConfig.text.replace('memSize = "2048"', 'memSize = "1"');
    },
    true,
  );
  // The copy in near is forged the same way, side file and all: only the catalog's record tells.
  const nearTwo = join(lab.dir, 'near', 'vms', lab.vmId, 'points', `000002-${(await lab.engine.repository.pointFolders(lab.vmId))[1]?.id}`);
  await editManifest(
    nearTwo,
    (manifest) => {
      manifest.vmConfig.text = manifest.vmConfig.text.replace('memSize = "2048"', 'memSize = "1"');
    },
    true,
  );
  const target = join(lab.dir, 'from-copy');
  const job = await runJob(
    lab.engine,
    (await api.invoke('restore.entireVm', { vm: VM, point: '2', target: { kind: 'local', path: target } })).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.equal((job.result?.source as { repository: string }).repository, 'zoned');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', lab.snapshots[1] as string, join(target, `${VM}.vmdk`)), /identical/);
  assert.match(await readFile(join(target, `${VM}.vmx`), 'utf8'), /memSize = "2048"/);
  const { events } = await api.invoke('jobs.get', { jobId: job.id });
  assert.ok(
    events.some((event) =>
      /passed over default: restore point 2 of gamma is damaged: its manifest\.json does not match the SHA-256 the catalog recorded/.test(
        event.message,
      ),
    ),
  );
  assert.ok(events.some((event) => /passed over near: restore point 2 of gamma is damaged/.test(event.message)));
});

test('a lost catalog is rebuilt from the repository with the hashes the side files vouch for', async () => {
  const { opened, open } = engineOpener();
  const lab = await chainOfPoints(open);
  try {
    // Point 3 is changed while the catalog is gone: only its side file can tell.
    await editManifest(await folderOf(lab, 3), (manifest) => {
      manifest.vmConfig.text += 'extra = "line"\n';
    });
    await lab.engine.close();
    for (const file of ['catalog.sqlite', 'catalog.sqlite-wal', 'catalog.sqlite-shm']) await rm(join(lab.home, file), { force: true });
    const engine = await open(lab.home);
    const health = await healthOf(engine, VM);
    assert.deepEqual([...health.keys()].sort(), [1, 2, 4], 'the damaged point is not indexed');
    for (const sequence of [1, 2, 4]) assert.equal(health.get(sequence)?.state, 'ok');
    const reopened: Lab = { ...lab, engine };
    await restoreAndCompare(reopened, 4);
    // From now on the rebuilt catalog's record catches a forger who rewrites the side file too.
    await editManifest(
      await folderOf(reopened, 4),
      (manifest) => {
        manifest.vmName = 'forged';
      },
      true,
    );
    assert.match((await healthOf(engine, VM)).get(4)?.reason ?? '', /does not match the SHA-256 the catalog recorded/);
  } finally {
    for (const engine of opened) await engine.close().catch(() => undefined);
  }
});
