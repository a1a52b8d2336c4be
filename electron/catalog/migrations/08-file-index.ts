// Catalog migration 8: the file index: each path once per VM, its versions per point, names searchable with FTS5 trigrams.
export const version = 8;
export const purpose = 'file index: each path once per VM, its versions per point, names searchable (FTS5 trigram)';
export const sql = `
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
`;
