// The console's catalog settings (channels catalog.get, catalog.move), against a real PostgreSQL
// started here: a home with a real backup asks for its SQLite catalog to move; the move is checked
// when asked (a database holding rows, a server nobody answers on, a URL that is not PostgreSQL,
// a viewer: refused, nothing kept) and made at the engine's next start, which then runs on
// PostgreSQL with the same VMs, points, jobs and audit log. A move that cannot be made at the start
// leaves the home on SQLite, whole, and the console says why.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { openCatalogDatabase } from '../../electron/catalog/database.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { catalogLocation } from '../../electron/home.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { Peer } from '../../electron/auth/peer.ts';
import { freePort } from '../../scripts/peers/free-port.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { asOwner } from '../helpers/owner.ts';

const { skip } = postgresForThisFile();
const owner = asOwner();

/** A SQLite home with one VM backed up. */
async function homeWithBackup(): Promise<{ home: string; engine: Engine }> {
  const dir = await tempDir('lifeboat-move-');
  const home = join(dir, 'home');
  const engine = await openServedEngine({ home, workerThreads: 1 });
  await writeMixedRaw(join(dir, 'web.raw'), 4, 3);
  await mkdir(join(dir, 'web'));
  await makeVmFolder(join(dir, 'web'), 'web', join(dir, 'web.raw'), 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(join(dir, 'web'), 'test'))).state, 'succeeded');
  return { home, engine };
}

function databaseWithRows(url: string): void {
  const other = openCatalogDatabase(url);
  other.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('four-eyes', 'on');
  other.close();
}

test('a move asked in the settings is checked now and made at the next start; the home then runs on PostgreSQL', { skip }, async () => {
  const { home, engine } = await homeWithBackup();
  let reopened: Engine | null = null;
  try {
    const info = await inProcessApi(engine, owner).invoke('catalog.get', {});
    assert.deepEqual(
      [info.backend, info.location, info.shared, info.moveAtNextStart, info.lastMoveFailure],
      ['sqlite', join(home, 'catalog.sqlite'), false, null, null],
    );
    assert.deepEqual(info.engines, [], 'a lone engine is not listed among shared ones');

    // Refused when asked, with nothing kept.
    const busy = await freshPostgresDatabase();
    databaseWithRows(busy);
    await assert.rejects(inProcessApi(engine, owner).invoke('catalog.move', { to: busy }), {
      code: 'conflict',
      message: /already holds catalog rows \(table settings\)/,
    });
    const nobody = `postgresql://postgres@127.0.0.1:${await freePort()}/lifeboat`;
    await assert.rejects(inProcessApi(engine, owner).invoke('catalog.move', { to: nobody }), {
      code: 'unavailable',
      message: /cannot (be )?reach/,
    });
    await assert.rejects(inProcessApi(engine, owner).invoke('catalog.move', { to: 'mysql://db/x' }), {
      code: 'bad-request',
      message: /postgresql:\/\/ URL/,
    });
    const viewer = new Peer({ account: 'vera', role: 'viewer', via: 'local' });
    const target = await freshPostgresDatabase();
    await assert.rejects(inProcessApi(engine, viewer).invoke('catalog.move', { to: target }), {
      code: 'unauthorized',
      message: /needs the administrator role/,
    });
    assert.equal(existsSync(join(home, 'catalog.move-to')), false);

    // Asked, withdrawn, asked again: kept private (the URL may hold a password), shown without it.
    const withPassword = target.replace('postgresql://postgres@', 'postgresql://postgres:s3cret@');
    const asked = await inProcessApi(engine, owner).invoke('catalog.move', { to: withPassword });
    assert.equal(asked.moveAtNextStart?.to.includes('s3cret'), false);
    assert.equal(statSync(join(home, 'catalog.move-to')).mode & 0o077, 0);
    assert.equal((await inProcessApi(engine, owner).invoke('catalog.move', { to: null })).moveAtNextStart, null);
    const again = await inProcessApi(engine, owner).invoke('catalog.move', { to: target });
    assert.ok(again.moveAtNextStart);
    assert.equal(engine.catalog.auditEntries(100).filter((entry) => entry.action.startsWith('catalog.move.')).length, 3);
    // The running engine keeps its catalog: the move waits for the next start.
    assert.equal(catalogLocation(home), join(home, 'catalog.sqlite'));
    const before = { vms: engine.catalog.listVms(), jobs: engine.catalog.listJobs().length };
    await engine.close();

    reopened = await openServedEngine({ home, workerThreads: 1 });
    assert.equal(catalogLocation(home), target);
    const moved = await inProcessApi(reopened, owner).invoke('catalog.get', {});
    assert.deepEqual([moved.backend, moved.moveAtNextStart, moved.lastMoveFailure], ['postgresql', null, null]);
    assert.deepEqual(reopened.catalog.listVms(), before.vms);
    assert.equal(reopened.catalog.listJobs().length, before.jobs);
    const migrated = reopened.catalog.auditEntries(100).find((entry) => entry.action === 'catalog.migrated');
    assert.ok(migrated, 'the move is in the audit log of the catalog it made');
    assert.equal(existsSync(join(home, 'catalog.move-to')), false);
    assert.equal(
      readdirSync(home).filter((name) => name.startsWith('catalog.sqlite.migrated-')).length,
      1,
      'the SQLite catalog kept aside',
    );
    // On PostgreSQL the move is not offered again.
    await assert.rejects(inProcessApi(reopened, owner).invoke('catalog.move', { to: await freshPostgresDatabase() }), {
      code: 'conflict',
      message: /already on PostgreSQL/,
    });
  } finally {
    await engine.close();
    await reopened?.close();
  }
});

test('a move that cannot be made at the start leaves the home on SQLite, whole, and says why', { skip }, async () => {
  const { home, engine } = await homeWithBackup();
  const target = await freshPostgresDatabase();
  await inProcessApi(engine, owner).invoke('catalog.move', { to: target });
  const jobs = engine.catalog.listJobs().length;
  await engine.close();
  // Between the ask and the start, the database got rows of someone else's.
  databaseWithRows(target);
  const reopened = await openServedEngine({ home, workerThreads: 1 });
  try {
    assert.equal(catalogLocation(home), join(home, 'catalog.sqlite'));
    const info = await inProcessApi(reopened, owner).invoke('catalog.get', {});
    assert.equal(info.backend, 'sqlite');
    assert.equal(info.moveAtNextStart, null, 'not tried again at every start');
    assert.match(info.lastMoveFailure?.message ?? '', /already holds catalog rows/);
    assert.equal(reopened.catalog.listJobs().length, jobs);
    assert.equal(reopened.catalog.listVms().length, 1);
  } finally {
    await reopened.close();
  }
  const untouched = Catalog.open(target);
  try {
    assert.equal(untouched.listVms().length, 0, 'nothing was copied into the database');
  } finally {
    untouched.close();
  }
});
