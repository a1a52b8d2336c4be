// Catalog migration 14: Azure Storage accounts (their keys live in the secret store).
export const version = 14;
export const purpose = 'Azure Storage accounts (their keys live in the secret store)';
export const sql = `
  CREATE TABLE azure_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    blob_url TEXT NOT NULL,
    account_name TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
`;
