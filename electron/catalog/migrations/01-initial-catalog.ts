// Catalog migration 1: the first schema: repositories, VMs, backups, restore points and their disks, jobs and their events, the audit log.
export const version = 1;
export const purpose = 'initial catalog';
export const sql = `
  CREATE TABLE repositories (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    block_size INTEGER NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE vms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT,
    bios_uuid TEXT,
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX vms_by_name ON vms(name);

  CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    vm_id TEXT NOT NULL REFERENCES vms(id),
    repository_id TEXT NOT NULL REFERENCES repositories(id),
    created_at TEXT NOT NULL,
    UNIQUE (vm_id, repository_id)
  ) STRICT;

  CREATE TABLE restore_points (
    id TEXT PRIMARY KEY,
    backup_id TEXT NOT NULL REFERENCES backups(id),
    vm_id TEXT NOT NULL REFERENCES vms(id),
    sequence INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('full', 'incremental')),
    parent_id TEXT REFERENCES restore_points(id),
    created_at TEXT NOT NULL,
    scanned_bytes INTEGER NOT NULL,
    changed_bytes INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    UNIQUE (vm_id, sequence)
  ) STRICT;

  CREATE TABLE disks (
    point_id TEXT NOT NULL REFERENCES restore_points(id) ON DELETE CASCADE,
    disk_key TEXT NOT NULL,
    file_name TEXT NOT NULL,
    capacity INTEGER NOT NULL,
    source_format TEXT NOT NULL,
    PRIMARY KEY (point_id, disk_key)
  ) STRICT;

  CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    vm_id TEXT,
    vm_name TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'waiting-for-operator', 'succeeded', 'failed', 'cancelled', 'interrupted')),
    summary TEXT NOT NULL,
    params TEXT NOT NULL,
    steps TEXT NOT NULL,
    current_step TEXT,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    result TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT
  ) STRICT;
  CREATE INDEX jobs_by_state ON jobs(state);

  CREATE TABLE job_events (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    level TEXT NOT NULL CHECK (level IN ('info', 'warning', 'error')),
    step TEXT,
    message TEXT NOT NULL
  ) STRICT;
  CREATE INDEX job_events_by_job ON job_events(job_id, id);

  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    details TEXT NOT NULL
  ) STRICT;
`;
