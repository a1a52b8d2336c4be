// The migration list: versions 1..N in order (a gap or a swap is refused), one file and one
// test per migration, and a new catalog opened at the newest version; a newer one is refused.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openCatalogDatabase, schemaVersion } from '../../electron/catalog/database.ts';
import { inOrder, migrations, newestVersion } from '../../electron/catalog/migrations/index.ts';
import { tempDir } from '../helpers/env.ts';

const here = import.meta.dirname;

test('the migrations are numbered 1..N; a gap or a swap is refused', () => {
  assert.deepEqual(
    migrations.map((migration) => migration.version),
    Array.from({ length: newestVersion }, (_, index) => index + 1),
  );
  const [one, two, three] = migrations;
  assert.ok(one && two && three);
  assert.throws(() => inOrder([one, three]), /#2 in the list has version 3/);
  assert.throws(() => inOrder([two, one]), /#1 in the list has version 2/);
});

test('each migration has its own file and its own test', () => {
  const numbered = (folder: string, suffix: string): string[] =>
    readdirSync(folder)
      .filter((name) => /^(migration-)?\d\d-/.test(name) && name.endsWith(suffix))
      .map((name) => name.replace(/^migration-/, '').replace(suffix, ''))
      .sort();
  const files = numbered(join(here, '../../electron/catalog/migrations'), '.ts');
  assert.deepEqual(
    files.map((name) => Number(name.slice(0, 2))),
    migrations.map((migration) => migration.version),
  );
  assert.deepEqual(numbered(here, '.test.ts'), files);
});

test('a new catalog reaches the newest version; one written by a newer Lifeboat is refused', async () => {
  const path = join(await tempDir(), 'catalog.sqlite');
  const db = openCatalogDatabase(path);
  assert.equal(schemaVersion(db), newestVersion);
  (db as Database.Database).pragma(`user_version = ${newestVersion + 1}`);
  db.close();
  assert.throws(() => openCatalogDatabase(path), {
    code: 'conflict',
    message: new RegExp(`schema ${newestVersion + 1}, this one knows ${newestVersion}`),
  });
  const untouched = new Database(path);
  assert.equal(untouched.pragma('user_version', { simple: true }), newestVersion + 1);
  untouched.close();
});
