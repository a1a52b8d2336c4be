// Catalog migration 5: the audit log becomes append-only and hash-chained; rows written before it have empty hashes.
export const version = 5;
export const purpose = 'append-only, hash-chained audit log';
export const sql = `
  ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
  ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
  CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
  CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
`;
