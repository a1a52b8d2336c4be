// Catalog migration 27: a file index that answers folder listings as the point's file systems
// would. Each indexed entry keeps its symlink (or device) target and the milliseconds of its mtime
// past the second (a listing shows mtimes to the millisecond); each index says which form it keeps
// its entries in (`listing`) and keeps the few listings above the volumes (/, each disk, /lvm,
// each volume group) as JSON, what the contract's FileEntry says of each. Points indexed before
// keep 0 and no JSON: listings of them read the point (files-service.ts) until they are indexed again.
export const version = 27;
export const purpose = 'file index entries as a listing shows them: targets, mtime milliseconds, the listings above the volumes';
export const sql = `
  ALTER TABLE point_files ADD COLUMN target TEXT;
  ALTER TABLE point_files ADD COLUMN mtime_ms INTEGER;
  ALTER TABLE indexed_points ADD COLUMN listing INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE indexed_points ADD COLUMN above_volumes TEXT;
`;
