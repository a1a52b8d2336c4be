// Catalog migration 19: what a file index could not read, and volumes that may be stale.
export const version = 19;
export const purpose = 'file index gaps: volumes, folders and entries an index could not read, and volumes that may be stale';
export const sql = `
  CREATE TABLE index_gaps (
    point_id TEXT NOT NULL REFERENCES indexed_points(point_id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('unreadable', 'stale')),
    reason TEXT NOT NULL
  ) STRICT;
  CREATE INDEX index_gaps_by_point ON index_gaps(point_id);
`;
