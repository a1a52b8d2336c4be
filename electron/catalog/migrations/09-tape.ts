// Catalog migration 9: tape media sets, their volumes, point copies with packed block maps and locations, operator prompts.
export const version = 9;
export const purpose = 'tape: media sets, volumes, point copies with packed block maps and locations; operator prompts';
export const sql = `
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
`;
