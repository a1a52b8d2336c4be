// Catalog migration 7: engine settings, and jobs held until someone approves them (older jobs waited for nothing).
export const version = 7;
export const purpose = 'settings, and jobs that wait for an approval';
export const sql = `
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  ALTER TABLE jobs ADD COLUMN waiting_for TEXT;
  ALTER TABLE jobs ADD COLUMN requested_by TEXT;
`;
