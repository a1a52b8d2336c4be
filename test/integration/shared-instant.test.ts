// Instant Recovery when engines share a PostgreSQL catalog (a real server and govmomi's vcsim,
// both started here): a session is served by the home that started it. That engine started again
// while another runs serves it again, from its write cache; the other engine, started again, leaves
// it alone.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { inProcessApi } from '../../electron/cli/connect.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import { sessionDiskSha256 } from '../helpers/session-nfs.ts';
import { sharedHome } from '../helpers/shared-homes.ts';

const { skip: noPostgres } = postgresForThisFile();
const skip = noPostgres || (vcsimUnavailable() ?? false);
const DISK_MIB = 8;

async function openShared(home: string): Promise<Engine> {
  const engine = await openServedEngine({ home, workerThreads: 1, shared: true });
  after(() => engine.close());
  return engine;
}

test('a session is served again by the home that started it, never by another engine of the catalog', { skip }, async () => {
  const dir = await tempDir('lifeboat-shared-instant-');
  const url = await freshPostgresDatabase();
  const homeA = await sharedHome(dir, 'home-a', url, null);
  await mkdir(join(homeA, 'instant'), { recursive: true });
  // NAS datastores' local paths resolve in vcsim's working folder: A's export folders.
  const vc = await startVcsim({ cwd: join(homeA, 'instant') });
  const first = await openShared(homeA);
  const raw = join(dir, 'app-01.raw');
  await writeMixedRaw(raw, DISK_MIB, 5);
  const folder = join(dir, 'app-01');
  await mkdir(folder);
  await makeVmFolder(folder, 'app-01', raw, 'monolithicFlat');
  assert.equal((await runJob(first, await first.backups.start(folder, 'test'))).state, 'succeeded');
  await first.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
  const homeB = await sharedHome(dir, 'home-b', url, join(homeA, 'repositories', 'default'));
  const other = await openShared(homeB);
  // What the console's catalog settings show on either engine: the two engines, this one marked.
  const catalogSeen = await inProcessApi(other).invoke('catalog.get', {});
  assert.deepEqual([catalogSeen.backend, catalogSeen.shared, catalogSeen.engines.length], ['postgresql', true, 2]);
  assert.deepEqual(
    catalogSeen.engines.map((engine) => engine.self),
    catalogSeen.engines.map((engine) => engine.id === other.catalog.engines.self),
  );
  assert.equal(catalogSeen.location.includes('@'), true);

  const { job, session } = await first.instant.start({ vm: 'app-01', point: 'latest', host: 'vc', listen: '127.0.0.1:0' }, 'test');
  assert.equal((await runJob(first, job)).state, 'succeeded');
  const expected = createHash('sha256')
    .update(await readFile(raw))
    .digest('hex');
  const served = other.instant.list().find((found) => found.id === session.id);
  assert.equal(served?.state, 'running', 'the other engine sees the session in the catalog it shares');
  assert.equal(served.note, null, 'served by A: nothing to say');
  assert.equal(await sessionDiskSha256(served), expected);

  // A stops (its session stays running in the catalog); B starts again meanwhile and leaves it alone.
  await first.close();
  await other.close();
  const otherAgain = await openShared(homeB);
  assert.equal(await otherAgain.instant.recovered, 0, 'B recovers none of the sessions left running: they are not its home’s');
  const seenByB = otherAgain.instant.list().find((found) => found.id === session.id);
  assert.equal(seenByB?.state, 'running');
  assert.equal(
    seenByB.note,
    `not served now: the engine of the home it was started from (${homeA}) is not running; the VM's datastore answers again when that engine starts`,
    'B says nobody serves it',
  );
  await assert.rejects(sessionDiskSha256(seenByB), 'served by nobody while its engine is down');

  // A starts again while B runs: it serves its own session again, on the same address.
  const firstAgain = await openShared(homeA);
  assert.equal(await firstAgain.instant.recovered, 1);
  let readBack: string | null = null;
  for (let attempt = 0; attempt < 60 && readBack === null; attempt++) {
    readBack = await sessionDiskSha256(seenByB).catch(() => null);
    if (readBack === null) await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.equal(readBack, expected, 'served again by the engine of the home that started it');
  assert.equal(otherAgain.instant.list().find((found) => found.id === session.id)?.note, null, 'B sees it served again');
  assert.equal((await runJob(firstAgain, firstAgain.instant.stop(session.id, 'test'))).state, 'succeeded');
});
