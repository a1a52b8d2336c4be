// Console session keys as the catalog keeps them (table console_sessions, migration 24): the
// key's SHA-256, whose the session is, when it began and was last used, and how it ended.
import type { CatalogDatabase } from './database.ts';

export type StoredSession = {
  id: string;
  digest: string;
  identity: string | null;
  createdAt: number;
  lastUsedAt: number;
  ended: { reason: 'expired' | 'revoked'; at: number } | null;
};

type Row = {
  id: string;
  key_sha256: string;
  identity: string | null;
  created_at: number;
  last_used_at: number;
  ended: 'expired' | 'revoked' | null;
  ended_at: number | null;
};

export class ConsoleSessionCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  all(): StoredSession[] {
    return (this.db.prepare('SELECT * FROM console_sessions').all() as Row[]).map((row) => ({
      id: row.id,
      digest: row.key_sha256,
      identity: row.identity,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
      ended: row.ended === null ? null : { reason: row.ended, at: row.ended_at ?? row.last_used_at },
    }));
  }

  save(session: StoredSession): void {
    this.db
      .prepare(
        `INSERT INTO console_sessions (id, key_sha256, identity, created_at, last_used_at, ended, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_used_at = excluded.last_used_at, ended = excluded.ended, ended_at = excluded.ended_at`,
      )
      .run(
        session.id,
        session.digest,
        session.identity,
        session.createdAt,
        session.lastUsedAt,
        session.ended?.reason ?? null,
        session.ended?.at ?? null,
      );
  }

  forget(id: string): void {
    this.db.prepare('DELETE FROM console_sessions WHERE id = ?').run(id);
  }
}
