// Catalog migration 23: data movers (`lifeboat mover` on proxy hosts). A mover is added with a
// one-time join token, kept only as its SHA-256 until it expires or is redeemed; at join it gets
// a certificate, whose serial is the only one the engine accepts from it (renewal replaces it).
// A removed mover's row stays (marked) so its certificate is refused by name; its name is free again.
export const version = 23;
export const purpose = 'data movers: join tokens (SHA-256 only), current certificate serials, removal';
export const sql = `
  CREATE TABLE movers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    proxy_vm TEXT,
    token_sha256 TEXT NOT NULL UNIQUE CHECK (length(token_sha256) = 64),
    token_expires_at TEXT NOT NULL,
    joined_at TEXT,
    certificate_serial TEXT UNIQUE,
    certificate_expires_at TEXT,
    created_at TEXT NOT NULL,
    removed_at TEXT,
    CHECK ((joined_at IS NULL) = (certificate_serial IS NULL)),
    CHECK ((certificate_serial IS NULL) = (certificate_expires_at IS NULL))
  ) STRICT;
  CREATE UNIQUE INDEX movers_live_name ON movers(name) WHERE removed_at IS NULL;
`;
