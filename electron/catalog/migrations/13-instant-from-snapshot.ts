// Catalog migration 13: an Instant Recovery session may run from an array clone (older sessions have none).
export const version = 13;
export const purpose = 'Instant Recovery from a storage snapshot: the clone a session runs from';
export const sql = `
  ALTER TABLE instant_sessions ADD COLUMN array_name TEXT;
  ALTER TABLE instant_sessions ADD COLUMN clone_id TEXT;
  ALTER TABLE instant_sessions ADD COLUMN vm_folder TEXT;
`;
