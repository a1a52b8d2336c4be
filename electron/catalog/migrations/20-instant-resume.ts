// Catalog migration 20: what a session needs to be served again after an engine restart. Its NFS
// export id is stable (file handles carry it; never reused: each new session takes the next one),
// the port its server bound is kept (a session started on port 0 binds the same one again), and so
// is the copy's region it reads (the same copy is reopened). Older sessions have none: the engine
// gives them an export id when it serves them.
export const version = 20;
export const purpose = 'Instant Recovery sessions that survive an engine restart: stable export id, bound port, source region';
export const sql = `
  ALTER TABLE instant_sessions ADD COLUMN export_id INTEGER CHECK (export_id BETWEEN 1 AND 4294967295);
  ALTER TABLE instant_sessions ADD COLUMN served_port INTEGER CHECK (served_port BETWEEN 1 AND 65535);
  ALTER TABLE instant_sessions ADD COLUMN from_region TEXT;
  CREATE UNIQUE INDEX instant_sessions_by_export_id ON instant_sessions(export_id) WHERE export_id IS NOT NULL;
`;
