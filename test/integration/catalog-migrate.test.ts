// `lifeboat catalog migrate`: a home populated the real way (lab VMs backed up and indexed) moves
// its SQLite catalog into an empty PostgreSQL database, checked table by table; the home then opens
// on PostgreSQL with the same VMs, points, jobs and audit log. Refused, with nothing changed: a
// target holding rows, an unreachable server, a source that is not sqlite:<home>, a served home.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { openCatalogDatabase } from '../../electron/catalog/database.ts';
import { PostgresCatalogDatabase } from '../../electron/catalog/postgres/postgres-database.ts';
import { catalogLocation } from '../../electron/home.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { freePort } from '../../scripts/peers/free-port.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { tempDir } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const run = promisify(execFile);

type Ended = { code: number; stdout: string; stderr: string };

async function lifeboat(args: string[]): Promise<Ended> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const { skip } = postgresForThisFile();

/** What the home's catalog tells: VMs, their points, jobs (with their events) and the audit log. */
function snapshotOf(location: string) {
  const catalog = Catalog.open(location);
  try {
    const vms = catalog.listVms();
    return {
      vms,
      points: vms.map((vm) => catalog.listPoints(vm.id)),
      jobs: catalog.listJobs().map((job) => ({ job, events: catalog.jobEvents(job.id), samples: catalog.jobSamples(job.id) })),
      audit: catalog.auditEntries(10_000),
      settings: catalog.settings(),
    };
  } finally {
    catalog.close();
  }
}

function sqliteCounts(path: string): Map<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'file_names%'").all() as {
      name: string;
    }[];
    return new Map(tables.map(({ name }) => [name, (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n]));
  } finally {
    db.close();
  }
}

test('catalog migrate: a populated home moves to PostgreSQL, checked; refusals change nothing', { skip }, async () => {
  const home = join(await tempDir(), 'home');
  const lab = await lifeboat(['--home', home, '--json', 'lab', 'create', '--vms', '2', '--points', '2', '--disk-mib', '16']);
  assert.equal(lab.code, 0, lab.stderr);
  const sqlite = join(home, 'catalog.sqlite');
  const counts = sqliteCounts(sqlite);
  assert.ok((counts.get('file_paths') ?? 0) > 0, 'the lab points were indexed');
  assert.ok((counts.get('audit_log') ?? 0) > 0, 'the audit log has entries');
  const before = snapshotOf(sqlite);
  assert.ok(before.jobs.length >= 4, 'the lab ran backup and index jobs');
  assert.equal(before.vms.length, 2);

  // Refusals: each leaves the SQLite catalog in place and the home without catalog.location.
  const untouched = () => {
    assert.ok(existsSync(sqlite), 'catalog.sqlite is still there');
    assert.ok(!existsSync(join(home, 'catalog.location')), 'the home still uses its SQLite catalog');
  };
  const busy = await freshPostgresDatabase();
  const other = openCatalogDatabase(busy);
  other.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run('four-eyes', 'on');
  other.close();
  const merged = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${home}`, '--to', busy]);
  assert.equal(merged.code, 2, merged.stderr);
  assert.match(merged.stderr, /already holds catalog rows \(table settings\)/);
  untouched();
  const busyAfter = new PostgresCatalogDatabase(busy);
  assert.deepEqual(busyAfter.raw('SELECT key, value FROM settings').rows, [{ key: 'four-eyes', value: 'on' }]);
  busyAfter.close();

  const unreachable = `postgresql://postgres@127.0.0.1:${await freePort()}/lifeboat`;
  const gone = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${home}`, '--to', unreachable]);
  assert.equal(gone.code, 2, gone.stderr);
  assert.match(gone.stderr, /cannot (be )?reach/);
  untouched();

  const target = await freshPostgresDatabase();
  const notSqlite = await lifeboat(['catalog', 'migrate', '--from', home, '--to', target]);
  assert.equal(notSqlite.code, 2);
  assert.match(notSqlite.stderr, /--from takes sqlite:/);
  const noCatalog = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${await tempDir()}`, '--to', target]);
  assert.equal(noCatalog.code, 2);
  assert.match(noCatalog.stderr, /has no SQLite catalog/);
  const notPostgres = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${home}`, '--to', 'mysql://x']);
  assert.equal(notPostgres.code, 2);
  untouched();

  const engine = await openServedEngine({ home });
  try {
    const served = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${home}`, '--to', target]);
    assert.equal(served.code, 2);
    assert.match(served.stderr, /an engine serves/);
  } finally {
    await engine.close();
  }
  untouched();

  // The move itself.
  const started = Date.now();
  const moved = await lifeboat(['--json', 'catalog', 'migrate', '--from', `sqlite:${home}`, '--to', target]);
  assert.equal(moved.code, 0, moved.stdout + moved.stderr);
  const report = JSON.parse(moved.stdout) as { tables: { table: string; rows: number; sha256: string }[]; setAside: string };
  console.log(`migrated in ${Date.now() - started} ms (the command's own: ${JSON.stringify(JSON.parse(moved.stdout).seconds)} s)`);
  assert.deepEqual(new Map(report.tables.map((check) => [check.table, check.rows])), counts, 'every table, every row');
  for (const check of report.tables) assert.match(check.sha256, /^[0-9a-f]{64}$/);

  assert.equal(catalogLocation(home), target);
  assert.ok(!existsSync(sqlite));
  const kept = readdirSync(home).filter((name) => /^catalog\.sqlite\.migrated-\d{8}T\d{6}Z$/.test(name));
  assert.equal(kept.length, 1, 'the SQLite catalog is kept, set aside');
  assert.equal(join(home, kept[0] as string), report.setAside);
  assert.deepEqual(sqliteCounts(report.setAside), counts, 'the kept file is whole');

  const after = snapshotOf(catalogLocation(home));
  // The move itself is the audit log's newest entry, by the OS user; the rest reads the same.
  const [move, ...audit] = after.audit;
  assert.equal(move?.action, 'catalog.migrated');
  assert.equal(move?.actor, `os:${userInfo().username}`);
  assert.match(String(move?.details), /"keptAs":".*catalog\.sqlite\.migrated-/);
  assert.deepEqual({ ...after, audit }, before, 'the home reads the same on PostgreSQL');
  const reopened = Catalog.open(catalogLocation(home), join(home, 'audit', 'anchors.log'));
  try {
    assert.equal(reopened.verifyAudit().intact, true, 'the audit chain and its anchors hold across the move');
  } finally {
    reopened.close();
  }
  const pg = new PostgresCatalogDatabase(target);
  try {
    const names = pg.raw('SELECT count(*)::int AS n FROM file_names').rows[0]?.n;
    assert.equal(names, counts.get('file_paths'), 'file names rebuilt from file_paths');
    const found = pg.raw("SELECT count(*)::int AS n FROM file_names WHERE name ILIKE '%notes%'").rows[0]?.n;
    assert.ok(Number(found) > 0, 'the rebuilt name index finds a lab file');
  } finally {
    pg.close();
  }
  // The home's own commands now run on PostgreSQL, jobs listed in the order they were made.
  const search = await lifeboat(['--home', home, '--json', 'files', 'search', 'notes']);
  assert.equal(search.code, 0, search.stdout + search.stderr);
  assert.ok((JSON.parse(search.stdout) as { hits: unknown[] }).hits.length > 0, 'the migrated index finds a lab file');

  // A second run is refused: the home is already on PostgreSQL.
  const again = await lifeboat(['catalog', 'migrate', '--from', `sqlite:${home}`, '--to', target]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already on PostgreSQL/);
});
