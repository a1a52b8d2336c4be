// Catalog migration 25: several engines on one PostgreSQL catalog (`lifeboat serve --shared`).
// Each engine that joins is listed (engines); a job names the engine that runs it or ran it last
// (engine_id; NULL for jobs written before), and whether it is in the shared queue (shared = 1:
// any engine of the group may run it, and take it over when its engine dies). Whether an engine
// still lives is not kept here: it is the advisory lock its connection holds (engine-catalog.ts).
export const version = 25;
export const purpose = 'engines sharing one catalog, and which engine runs each job';
export const sql = `
  CREATE TABLE engines (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at TEXT NOT NULL
  ) STRICT;
  ALTER TABLE jobs ADD COLUMN engine_id TEXT;
  ALTER TABLE jobs ADD COLUMN shared INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1));
`;
