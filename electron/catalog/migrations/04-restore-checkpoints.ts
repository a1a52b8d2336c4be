// Catalog migration 4: per-disk checkpoints of a restore, so a resumed restore skips what it already wrote.
export const version = 4;
export const purpose = 'restore checkpoints';
export const sql = `
  CREATE TABLE job_checkpoints (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    disk_key TEXT NOT NULL,
    slots INTEGER NOT NULL CHECK (slots > 0),
    watermarks TEXT NOT NULL,
    complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (job_id, disk_key)
  ) STRICT;
`;
