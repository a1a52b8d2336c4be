// Numbered migrations, applied in order inside one transaction each; user_version records the
// last one applied. Tables are STRICT so a wrong type is an error, not a silent conversion.
export const migrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial catalog',
    sql: `
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
    `,
  },
  {
    version: 2,
    name: 'hypervisor hosts',
    sql: `
      CREATE TABLE hosts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('vsphere')),
        url TEXT NOT NULL,
        user_name TEXT NOT NULL,
        insecure INTEGER NOT NULL CHECK (insecure IN (0, 1)),
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 3,
    name: 'backup proxies',
    sql: `
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
    `,
  },
  {
    version: 4,
    name: 'restore checkpoints',
    sql: `
      CREATE TABLE job_checkpoints (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        disk_key TEXT NOT NULL,
        slots INTEGER NOT NULL CHECK (slots > 0),
        watermarks TEXT NOT NULL,
        complete INTEGER NOT NULL CHECK (complete IN (0, 1)),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (job_id, disk_key)
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'append-only, hash-chained audit log',
    sql: `
      ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
      ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
  {
    version: 6,
    name: 'temporary things jobs create, for the janitor',
    sql: `
      CREATE TABLE job_resources (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('staging-folder', 'target-folder', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk')),
        ref TEXT NOT NULL,
        created_at TEXT NOT NULL,
        released_at TEXT
      ) STRICT;
      CREATE INDEX job_resources_open ON job_resources(released_at, job_id);
    `,
  },
  {
    version: 7,
    name: 'settings, and jobs that wait for an approval',
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) STRICT;
      ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
      ALTER TABLE jobs ADD COLUMN requested_by TEXT;
    `,
  },
  {
    version: 8,
    name: 'file index: each path once per VM, its versions per point, names searchable (FTS5 trigram)',
    sql: `
      CREATE TABLE indexed_points (
        point_id TEXT PRIMARY KEY REFERENCES restore_points(id) ON DELETE CASCADE,
        vm_id TEXT NOT NULL,
        files INTEGER NOT NULL,
        indexed_at TEXT NOT NULL
      ) STRICT;
      CREATE TABLE file_paths (
        id INTEGER PRIMARY KEY,
        vm_id TEXT NOT NULL,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (vm_id, path)
      ) STRICT;
      CREATE TABLE point_files (
        point_id TEXT NOT NULL,
        path_id INTEGER NOT NULL,
        type TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime INTEGER,
        mode INTEGER,
        PRIMARY KEY (point_id, path_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX point_files_by_path ON point_files(path_id);
      CREATE VIRTUAL TABLE file_names USING fts5(name, content='file_paths', content_rowid='id', tokenize='trigram');
    `,
  },
  {
    version: 9,
    name: 'tape: media sets, volumes, point copies with packed block maps and locations; operator prompts',
    sql: `
      CREATE TABLE tape_media_sets (
        id TEXT PRIMARY KEY,
        pool TEXT NOT NULL,
        block_size INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('writing', 'complete', 'scanned'))
      ) STRICT;
      CREATE TABLE tape_volumes (
        barcode TEXT PRIMARY KEY,
        media_set_id TEXT NOT NULL REFERENCES tape_media_sets(id) ON DELETE CASCADE,
        sequence INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        written_at TEXT NOT NULL,
        UNIQUE (media_set_id, sequence)
      ) STRICT;
      CREATE TABLE tape_copies (
        id INTEGER PRIMARY KEY,
        media_set_id TEXT NOT NULL REFERENCES tape_media_sets(id) ON DELETE CASCADE,
        point_id TEXT NOT NULL,
        vm_id TEXT NOT NULL,
        vm_name TEXT NOT NULL,
        point_sequence INTEGER NOT NULL,
        point_created_at TEXT NOT NULL,
        manifest TEXT NOT NULL,
        unique_blocks INTEGER NOT NULL,
        stored_bytes INTEGER NOT NULL,
        maps BLOB NOT NULL,
        locations BLOB NOT NULL,
        UNIQUE (media_set_id, point_id)
      ) STRICT;
      CREATE INDEX tape_copies_by_vm ON tape_copies(vm_id, vm_name);
      CREATE TABLE prompts (
        id TEXT PRIMARY KEY,
        job_ids TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('insert-tape')),
        barcode TEXT,
        message TEXT NOT NULL,
        place TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('open', 'answered', 'detected', 'cancelled', 'expired')),
        created_at TEXT NOT NULL,
        closed_at TEXT,
        closed_by TEXT
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'job throughput samples, for the plot of a job over time',
    sql: `
      CREATE TABLE job_samples (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        at_ms INTEGER NOT NULL,
        bytes_done INTEGER NOT NULL,
        PRIMARY KEY (job_id, at_ms)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 11,
    name: 'Instant Recovery sessions',
    sql: `
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
    `,
  },
  {
    version: 12,
    name: 'storage arrays, their snapshots as restore points, and array clones as job resources',
    sql: `
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
    `,
  },
  {
    version: 13,
    name: 'Instant Recovery from a storage snapshot: the clone a session runs from',
    sql: `
      ALTER TABLE instant_sessions ADD COLUMN array_name TEXT;
      ALTER TABLE instant_sessions ADD COLUMN clone_id TEXT;
      ALTER TABLE instant_sessions ADD COLUMN vm_folder TEXT;
    `,
  },
  {
    version: 14,
    name: 'Azure Storage accounts (their keys live in the secret store)',
    sql: `
      CREATE TABLE azure_accounts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        blob_url TEXT NOT NULL,
        account_name TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 15,
    name: 'copies: repositories placed in a region and zone, the copies of each point and their hashes; the key of encrypted points',
    sql: `
      ALTER TABLE repositories ADD COLUMN region TEXT NOT NULL DEFAULT 'primary';
      ALTER TABLE repositories ADD COLUMN zone TEXT NOT NULL DEFAULT 'zone-1';
      ALTER TABLE repositories ADD COLUMN role TEXT NOT NULL DEFAULT 'primary' CHECK (role IN ('primary', 'copy'));
      ALTER TABLE restore_points ADD COLUMN key_id TEXT;

      CREATE TABLE point_copies (
        point_id TEXT NOT NULL REFERENCES restore_points(id) ON DELETE CASCADE,
        repository_id TEXT NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
        data_sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        copied_at TEXT NOT NULL,
        PRIMARY KEY (point_id, repository_id)
      ) STRICT;
    `,
  },
  {
    version: 16,
    name: 'sign-in: local accounts (scrypt password hashes), sessions (token hashes only), the directory to bind against',
    sql: `
      CREATE TABLE accounts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'administrator')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        password_changed_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE auth_sessions (
        token_sha256 TEXT PRIMARY KEY,
        account TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'administrator')),
        via TEXT NOT NULL CHECK (via IN ('local', 'directory')),
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX auth_sessions_account ON auth_sessions(account);

      CREATE TABLE directory_config (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        config TEXT NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 17,
    name: 'job resources: the files a restore has moved into its target (undone with the restore, kept for its resume)',
    sql: `
      -- A CHECK cannot be altered: the table is rebuilt with the new kind.
      CREATE TABLE job_resources_new (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('staging-folder', 'target-folder', 'published-file', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk', 'array-clone')),
        ref TEXT NOT NULL,
        created_at TEXT NOT NULL,
        released_at TEXT
      ) STRICT;
      INSERT INTO job_resources_new SELECT id, job_id, kind, ref, created_at, released_at FROM job_resources;
      DROP TABLE job_resources;
      ALTER TABLE job_resources_new RENAME TO job_resources;
      CREATE INDEX job_resources_open ON job_resources(released_at, job_id);
    `,
  },
  {
    version: 18,
    name: "restore points: the SHA-256 of each point's manifest, recorded when the point is made",
    sql: `
      ALTER TABLE restore_points ADD COLUMN manifest_sha256 TEXT;
    `,
  },
  {
    version: 19,
    name: 'file index gaps: volumes, folders and entries an index could not read, and volumes that may be stale',
    sql: `
      CREATE TABLE index_gaps (
        point_id TEXT NOT NULL REFERENCES indexed_points(point_id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('unreadable', 'stale')),
        reason TEXT NOT NULL
      ) STRICT;
      CREATE INDEX index_gaps_by_point ON index_gaps(point_id);
    `,
  },
];
