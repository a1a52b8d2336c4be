// Catalog migration 2: hypervisor hosts (vSphere) that VMs are backed up from.
export const version = 2;
export const purpose = 'hypervisor hosts';
export const sql = `
  CREATE TABLE hosts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('vsphere')),
    url TEXT NOT NULL,
    user_name TEXT NOT NULL,
    insecure INTEGER NOT NULL CHECK (insecure IN (0, 1)),
    created_at TEXT NOT NULL
  ) STRICT;
`;
