// Catalog migration 15: repositories placed in a region and zone (older ones are primaries in zone-1), point copies, the key of an encrypted point.
export const version = 15;
export const purpose =
  'copies: repositories placed in a region and zone, the copies of each point and their hashes; the key of encrypted points';
export const sql = `
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
`;
