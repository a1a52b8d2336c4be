// Opens the catalog: a SQLite file (the embedded default: WAL, foreign keys) or a PostgreSQL
// database (a `postgresql://` URL, shared by several engines), and applies every migration not yet
// applied; or, for a listing with no engine running, read-only and only when no migration is due.
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { LifeboatError } from '../errors.ts';
import { migrations, newestVersion } from './migrations/index.ts';
import { describeLocation, isPostgresLocation } from '../catalog-location.ts';
import type { CatalogDatabase } from './database-types.ts';
import { PostgresCatalogDatabase } from './postgres/postgres-database.ts';

export type { ArgumentsOf, CatalogDatabase, CatalogStatement, TransactionBody } from './database-types.ts';

export type OpenOptions = {
  /** For an engine: a PostgreSQL catalog another engine uses is refused before anything is
   * migrated (PostgresCatalogDatabase.claimForEngine); a SQLite one is its home's. `shared`: the
   * id of an engine that shares the catalog and its job queue with others (serve --shared). */
  forEngine?: boolean | { shared: string };
  /** How long one PostgreSQL statement may take (a bulk copy asks for more than the default). */
  answerWithinMs?: number;
};

export function openCatalogDatabase(location: string, options: OpenOptions = {}): CatalogDatabase {
  const db = isPostgresLocation(location)
    ? new PostgresCatalogDatabase(location, options.answerWithinMs === undefined ? {} : { answerWithinMs: options.answerWithinMs })
    : openSqlite(location);
  try {
    if (options.forEngine && db instanceof PostgresCatalogDatabase) claimForEngine(db, location, options.forEngine);
    else if (typeof options.forEngine === 'object')
      throw new LifeboatError('bad-request', 'engines share a job queue only on a PostgreSQL catalog (--catalog postgresql://…)');
    const current = schemaVersion(db);
    if (current > newestVersion)
      throw new LifeboatError(
        'conflict',
        `catalog ${describeLocation(location)} was written by a newer Lifeboat (schema ${current}, this one knows ${newestVersion})`,
      );
    migrateTo(db, newestVersion);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function claimForEngine(db: PostgresCatalogDatabase, location: string, forEngine: true | { shared: string }): void {
  const shared = forEngine === true ? null : forEngine.shared;
  if (db.claimForEngine(shared)) return;
  throw new LifeboatError(
    'conflict',
    shared === null
      ? `another engine uses the catalog ${describeLocation(location)}: one engine at a time, unless every engine of the catalog is started with --shared (docs/catalog-postgresql.md)`
      : `an engine uses the catalog ${describeLocation(location)} alone: stop it, or start every engine of the catalog with --shared (docs/catalog-postgresql.md)`,
  );
}

function openSqlite(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** The catalog opened read-only (every write fails), or null when a listing must leave it to the
 * engine: no catalog yet, or one whose schema is not this Lifeboat's (the engine migrates an older
 * one under its claim of the home, and refuses a newer one with its reason). */
export function openCatalogReadOnly(location: string): CatalogDatabase | null {
  let db: CatalogDatabase;
  if (isPostgresLocation(location)) db = new PostgresCatalogDatabase(location, { readonly: true });
  else {
    if (!existsSync(location)) return null;
    const sqlite = new Database(location, { readonly: true, fileMustExist: true });
    sqlite.pragma('busy_timeout = 5000');
    db = sqlite;
  }
  try {
    if (schemaVersion(db) === newestVersion) return db;
  } catch (error) {
    db.close();
    throw error;
  }
  db.close();
  return null;
}

/** The version of the last migration applied (0 for a new catalog). */
export function schemaVersion(db: CatalogDatabase): number {
  if (db instanceof PostgresCatalogDatabase) return db.schemaVersion();
  return (db as Database.Database).pragma('user_version', { simple: true }) as number;
}

/** Applies the migrations after the database's version up to `target`, each in its own
 * transaction with the version it reaches (a test stops at an older version to add its rows). */
export function migrateTo(db: CatalogDatabase, target: number): void {
  if (db instanceof PostgresCatalogDatabase) {
    db.migrateTo(migrations, target);
    return;
  }
  const sqlite = db as Database.Database;
  const current = schemaVersion(sqlite);
  for (const migration of migrations) {
    if (migration.version <= current || migration.version > target) continue;
    sqlite.transaction(() => {
      sqlite.exec(migration.sql);
      sqlite.pragma(`user_version = ${migration.version}`);
    })();
  }
}
