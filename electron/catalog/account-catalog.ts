// Local accounts (name, role, scrypt hash), sign-in sessions (the SHA-256 of each token, never
// the token) and the directory's settings. Names compare without case: Alice is alice.
import type { AccountSummary, DirectoryConfig, Role, SignedIn } from '../../shared/accounts.ts';
import type { CatalogDatabase } from './database.ts';

type AccountRow = { name: string; role: Role; password_hash: string; created_at: string; password_changed_at: string };
type SessionRow = { account: string; role: Role; via: 'local' | 'directory'; expires_at: string };

function summary(row: AccountRow): AccountSummary {
  return { name: row.name, role: row.role, createdAt: row.created_at, passwordChangedAt: row.password_changed_at };
}

export class AccountCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  list(): AccountSummary[] {
    return (this.db.prepare('SELECT * FROM accounts ORDER BY name').all() as AccountRow[]).map(summary);
  }

  find(name: string): (AccountSummary & { passwordHash: string }) | null {
    const row = this.db.prepare('SELECT * FROM accounts WHERE name = ?').get(name) as AccountRow | undefined;
    return row ? { ...summary(row), passwordHash: row.password_hash } : null;
  }

  add(name: string, role: Role, passwordHash: string): AccountSummary {
    const now = new Date().toISOString();
    this.db
      .prepare('INSERT INTO accounts (name, role, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?)')
      .run(name, role, passwordHash, now, now);
    return summary({ name, role, password_hash: passwordHash, created_at: now, password_changed_at: now });
  }

  /** Removes the account and every session it holds, in one transaction. */
  remove(name: string): void {
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM auth_sessions WHERE account = ? COLLATE NOCASE AND via = 'local'").run(name);
      this.db.prepare('DELETE FROM accounts WHERE name = ?').run(name);
    })();
  }

  /** A new role takes effect at once: the account's open sessions carry it too. */
  setRole(name: string, role: Role): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE accounts SET role = ? WHERE name = ?').run(role, name);
      this.db.prepare("UPDATE auth_sessions SET role = ? WHERE account = ? COLLATE NOCASE AND via = 'local'").run(role, name);
    })();
  }

  /** A new password ends the account's sessions: whoever knew the old one is signed out. */
  setPassword(name: string, passwordHash: string): void {
    this.db.transaction(() => {
      this.db
        .prepare('UPDATE accounts SET password_hash = ?, password_changed_at = ? WHERE name = ?')
        .run(passwordHash, new Date().toISOString(), name);
      this.db.prepare("DELETE FROM auth_sessions WHERE account = ? COLLATE NOCASE AND via = 'local'").run(name);
    })();
  }

  countWithRole(role: Role): number {
    return (this.db.prepare('SELECT count(*) AS n FROM accounts WHERE role = ?').get(role) as { n: number }).n;
  }

  addSession(tokenSha256: string, identity: { account: string; role: Role; via: 'local' | 'directory' }, expiresAt: string): void {
    this.db
      .prepare('INSERT INTO auth_sessions (token_sha256, account, role, via, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(tokenSha256, identity.account, identity.role, identity.via, new Date().toISOString(), expiresAt);
  }

  /** The session of a token's hash, when it has not expired (expired ones are dropped here). */
  session(tokenSha256: string, now: Date): SignedIn | null {
    // Ended sessions are purged by the engine; a catalog opened read-only (a listing) skips them.
    if (!this.db.readonly) this.db.prepare('DELETE FROM auth_sessions WHERE expires_at <= ?').run(now.toISOString());
    const row = this.db
      .prepare('SELECT account, role, via, expires_at FROM auth_sessions WHERE token_sha256 = ? AND expires_at > ?')
      .get(tokenSha256, now.toISOString()) as SessionRow | undefined;
    return row ? { account: row.account, role: row.role, via: row.via, expiresAt: row.expires_at } : null;
  }

  removeSession(tokenSha256: string): boolean {
    return this.db.prepare('DELETE FROM auth_sessions WHERE token_sha256 = ?').run(tokenSha256).changes > 0;
  }

  directory(): string | null {
    return (this.db.prepare('SELECT config FROM directory_config WHERE id = 1').get() as { config: string } | undefined)?.config ?? null;
  }

  /** Changing the directory ends every directory session: their roles came from the old one. */
  setDirectory(config: DirectoryConfig | null): void {
    this.db.transaction(() => {
      if (config === null) this.db.prepare('DELETE FROM directory_config').run();
      else
        this.db
          .prepare('INSERT INTO directory_config (id, config) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET config = excluded.config')
          .run(JSON.stringify(config));
      this.db.prepare("DELETE FROM auth_sessions WHERE via = 'directory'").run();
    })();
  }
}
