// Catalog migration 16: sign-in: local accounts, sessions (token hashes only), the directory to bind against.
export const version = 16;
export const purpose = 'sign-in: local accounts (scrypt password hashes), sessions (token hashes only), the directory to bind against';
export const sql = `
  CREATE TABLE accounts (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'administrator')),
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE auth_sessions (
    token_sha256 TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'administrator')),
    via TEXT NOT NULL CHECK (via IN ('local', 'directory')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX auth_sessions_account ON auth_sessions(account);

  CREATE TABLE directory_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL
  ) STRICT;
`;
