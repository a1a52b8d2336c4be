// Opens the catalog: WAL, foreign keys, and every migration not yet applied.
import Database from 'better-sqlite3';
import { LifeboatError } from '../errors.ts';
import { migrations, newestVersion } from './migrations/index.ts';

export type CatalogDatabase = Database.Database;

export function openCatalogDatabase(path: string): CatalogDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  const current = schemaVersion(db);
  if (current > newestVersion) {
    db.close();
    throw new LifeboatError(
      'conflict',
      `catalog ${path} was written by a newer Lifeboat (schema ${current}, this one knows ${newestVersion})`,
    );
  }
  migrateTo(db, newestVersion);
  return db;
}

/** The version of the last migration applied (0 for a new file). */
export function schemaVersion(db: CatalogDatabase): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the migrations after the database's version up to `target`, each in its own
 * transaction with the version it reaches (a test stops at an older version to add its rows). */
export function migrateTo(db: CatalogDatabase, target: number): void {
  const current = schemaVersion(db);
  for (const migration of migrations) {
    if (migration.version <= current || migration.version > target) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
