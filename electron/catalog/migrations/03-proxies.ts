// Catalog migration 3: backup proxies of a host: the transports they offer and how many tasks they take.
export const version = 3;
export const purpose = 'backup proxies';
export const sql = `
  CREATE TABLE proxies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    host_id TEXT NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
    transports TEXT NOT NULL,
    proxy_vm TEXT,
    datastore_paths TEXT NOT NULL,
    max_tasks INTEGER NOT NULL CHECK (max_tasks > 0),
    created_at TEXT NOT NULL
  ) STRICT;
`;
