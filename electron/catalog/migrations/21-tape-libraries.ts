// Catalog migration 21: real tape libraries the home is configured with (iSCSI targets, SCSI
// generic devices), and which one tape jobs use. A CHAP secret lives in the secret store under the
// library's id, never here. No row in use means the built-in virtual library.
export const version = 21;
export const purpose = 'configured tape libraries (iSCSI, SCSI generic) and the one in use; CHAP secrets in the secret store';
export const sql = `
  CREATE TABLE tape_libraries (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('iscsi', 'sg')),
    url TEXT NOT NULL,
    lun INTEGER CHECK (lun BETWEEN 0 AND 16383),
    block_size INTEGER CHECK (block_size > 0),
    chap_user TEXT,
    in_use INTEGER NOT NULL DEFAULT 0 CHECK (in_use IN (0, 1)),
    created_at TEXT NOT NULL
  ) STRICT;
  CREATE UNIQUE INDEX tape_libraries_one_in_use ON tape_libraries(in_use) WHERE in_use = 1;
`;
