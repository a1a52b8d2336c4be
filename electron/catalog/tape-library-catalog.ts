// The real tape libraries of the home and which one tape jobs use (none in use: the built-in
// virtual library). Their CHAP secrets are in the secret store, never here.
import type { TapeLibrarySummary } from '../../shared/domain.ts';
import type { CatalogDatabase } from './database.ts';

type Row = {
  id: string;
  name: string;
  kind: 'iscsi' | 'sg';
  url: string;
  lun: number | null;
  block_size: number | null;
  chap_user: string | null;
  in_use: number;
  created_at: string;
};

function fromRow(row: Row): TapeLibrarySummary {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    url: row.url,
    lun: row.lun,
    blockSize: row.block_size,
    chapUser: row.chap_user,
    inUse: row.in_use === 1,
    createdAt: row.created_at,
  };
}

export class TapeLibraryCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  /** Adds the library and makes it the one in use, in one transaction. */
  addInUse(library: Omit<TapeLibrarySummary, 'inUse'>): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE tape_libraries SET in_use = 0 WHERE in_use = 1').run();
      this.db
        .prepare(
          'INSERT INTO tape_libraries (id, name, kind, url, lun, block_size, chap_user, in_use, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)',
        )
        .run(library.id, library.name, library.kind, library.url, library.lun, library.blockSize, library.chapUser, library.createdAt);
    })();
  }

  find(name: string): TapeLibrarySummary | null {
    const row = this.db.prepare('SELECT * FROM tape_libraries WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  list(): TapeLibrarySummary[] {
    return (this.db.prepare('SELECT * FROM tape_libraries ORDER BY name').all() as Row[]).map(fromRow);
  }

  /** The library tape jobs use, or null for the virtual one. */
  inUse(): TapeLibrarySummary | null {
    const row = this.db.prepare('SELECT * FROM tape_libraries WHERE in_use = 1').get() as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** Makes `id` the library in use; null goes back to the virtual library. */
  use(id: string | null): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE tape_libraries SET in_use = 0 WHERE in_use = 1').run();
      if (id !== null) this.db.prepare('UPDATE tape_libraries SET in_use = 1 WHERE id = ?').run(id);
    })();
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM tape_libraries WHERE id = ?').run(id);
  }
}
