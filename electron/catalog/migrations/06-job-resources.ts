// Catalog migration 6: what a job creates before it creates it, so the janitor can remove what a crash left.
export const version = 6;
export const purpose = 'temporary things jobs create, for the janitor';
export const sql = `
  CREATE TABLE job_resources (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('staging-folder', 'target-folder', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk')),
    ref TEXT NOT NULL,
    created_at TEXT NOT NULL,
    released_at TEXT
  ) STRICT;
  CREATE INDEX job_resources_open ON job_resources(released_at, job_id);
`;
