// Catalog migration 22: job_resources accepts the snapshot a backup from vSphere takes of its VM.
export const version = 22;
export const purpose = 'job resources: the snapshot a backup from vSphere takes (removed by the janitor after a crash)';
export const sql = `
  -- A CHECK cannot be altered: the table is rebuilt with the new kind.
  CREATE TABLE job_resources_new (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('staging-folder', 'target-folder', 'published-file', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk', 'array-clone', 'vsphere-snapshot')),
    ref TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT
  ) STRICT;
  INSERT INTO job_resources_new SELECT id, job_id, kind, ref, created_at, released_at FROM job_resources;
  DROP TABLE job_resources;
  ALTER TABLE job_resources_new RENAME TO job_resources;
  CREATE INDEX job_resources_open ON job_resources(released_at, job_id);
`;
