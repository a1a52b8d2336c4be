// Opens the catalog: WAL, foreign keys, and every migration not yet applied; or, for a listing
// with no engine running, read-only and only when no migration is due.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
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

/** The catalog opened read-only (SQLite refuses every write on it), or null when a listing must
 * leave it to the engine: no catalog yet, or one whose schema is not this Lifeboat's (the engine
 * migrates an older one under its claim of the home, and refuses a newer one with its reason). */
export function openCatalogReadOnly(path: string): CatalogDatabase | null {
  if (!existsSync(path)) return null;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  if (schemaVersion(db) === newestVersion) return db;
  db.close();
  return null;
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
