// Opens the catalog: WAL, foreign keys, and every migration not yet applied.
import Database from 'better-sqlite3';
import { LifeboatError } from '../errors.ts';
import { migrations } from './migrations.ts';

export type CatalogDatabase = Database.Database;

export function openCatalogDatabase(path: string): CatalogDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    db.close();
    throw new LifeboatError('conflict', `catalog ${path} was written by a newer Lifeboat (schema ${current}, this one knows ${newest})`);
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return db;
}
