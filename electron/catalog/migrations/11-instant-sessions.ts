// Catalog migration 11: Instant Recovery sessions: a VM run from its backup over NFS.
export const version = 11;
export const purpose = 'Instant Recovery sessions';
export const sql = `
  CREATE TABLE instant_sessions (
    id TEXT PRIMARY KEY,
    vm_id TEXT NOT NULL,
    vm_name TEXT NOT NULL,
    point_id TEXT NOT NULL,
    name TEXT NOT NULL,
    host TEXT NOT NULL,
    host_system TEXT,
    datastore TEXT NOT NULL UNIQUE,
    listen TEXT NOT NULL,
    export_path TEXT NOT NULL,
    allowed TEXT NOT NULL,
    export_folder TEXT NOT NULL,
    cache_folder TEXT NOT NULL,
    redirected INTEGER NOT NULL CHECK (redirected IN (0, 1)),
    state TEXT NOT NULL CHECK (state IN ('starting', 'running', 'migrating', 'stopping', 'stopped', 'migrated', 'failed')),
    note TEXT,
    job_id TEXT,
    created_at TEXT NOT NULL,
    ended_at TEXT,
    powered_on_ms INTEGER,
    first_read_ms INTEGER,
    bytes_read INTEGER NOT NULL DEFAULT 0,
    bytes_written INTEGER NOT NULL DEFAULT 0,
    cache_bytes INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX instant_sessions_by_state ON instant_sessions(state);
`;
