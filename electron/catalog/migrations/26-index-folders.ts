// Catalog migration 26: each indexed path names its folder (parent: the path without '/' and the
// entry's own name, which may itself hold a '/' from a damaged file system), so a folder of the
// file index is one indexed look-up, not a scan of everything under it. Paths indexed before get
// theirs here (length and substr count characters on both backends).
export const version = 26;
export const purpose = 'file index folders: each path names its parent folder, looked up by an index';
export const sql = `
  ALTER TABLE file_paths ADD COLUMN parent TEXT NOT NULL DEFAULT '';
  UPDATE file_paths SET parent = substr(path, 1, length(path) - length(name) - 1);
  CREATE INDEX file_paths_by_parent ON file_paths(vm_id, parent);
`;
