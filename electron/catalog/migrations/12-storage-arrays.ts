// Catalog migration 12: storage arrays and their snapshots; job_resources is rebuilt to accept array clones.
export const version = 12;
export const purpose = 'storage arrays, their snapshots as restore points, and array clones as job resources';
export const sql = `
  CREATE TABLE arrays (
    name TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE storage_snapshots (
    id TEXT PRIMARY KEY,
    array_name TEXT NOT NULL REFERENCES arrays(name) ON DELETE CASCADE,
    volume TEXT NOT NULL,
    created_at TEXT NOT NULL,
    vms TEXT NOT NULL
  ) STRICT;

  -- A CHECK cannot be altered: the table is rebuilt with the new kind.
  CREATE TABLE job_resources_new (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('staging-folder', 'target-folder', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk', 'array-clone')),
    ref TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT
  ) STRICT;
  INSERT INTO job_resources_new SELECT id, job_id, kind, ref, created_at, released_at FROM job_resources;
  DROP TABLE job_resources;
  ALTER TABLE job_resources_new RENAME TO job_resources;
  CREATE INDEX job_resources_open ON job_resources(released_at, job_id);
`;
