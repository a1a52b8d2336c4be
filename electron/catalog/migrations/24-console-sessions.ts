// Catalog migration 24: console session keys outlive the engine that issued them, so a browser
// tab reconnects to a restarted `lifeboat serve` with the key it holds. Only the key's SHA-256 is
// kept; an ended key (expired, revoked) stays until its longest life is over, so a tab that comes
// back with it hears why, not "wrong key". Times are milliseconds since the epoch.
export const version = 24;
export const purpose = 'console session keys (SHA-256 only) that survive an engine restart';
export const sql = `
  CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE CHECK (length(key_sha256) = 64),
    identity TEXT,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    ended TEXT CHECK (ended IN ('expired', 'revoked')),
    ended_at INTEGER,
    CHECK ((ended IS NULL) = (ended_at IS NULL))
  ) STRICT;
`;
