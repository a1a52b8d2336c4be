// Catalog migration 18: the SHA-256 of each point's manifest (points made before it have none).
export const version = 18;
export const purpose = "restore points: the SHA-256 of each point's manifest, recorded when the point is made";
export const sql = `
  ALTER TABLE restore_points ADD COLUMN manifest_sha256 TEXT;
`;
