// Azure Storage accounts Lifeboat restores to: name, blob endpoint, account name. Their keys are
// in the secret store, never here.
import type { AzureAccount } from '../../shared/domain.ts';
import type { CatalogDatabase } from './database.ts';

type Row = { id: string; name: string; blob_url: string; account_name: string; created_at: string };

function fromRow(row: Row): AzureAccount {
  return { id: row.id, name: row.name, blobUrl: row.blob_url, accountName: row.account_name, createdAt: row.created_at };
}

export class AzureCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  add(account: AzureAccount): void {
    this.db
      .prepare('INSERT INTO azure_accounts (id, name, blob_url, account_name, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(account.id, account.name, account.blobUrl, account.accountName, account.createdAt);
  }

  find(name: string): AzureAccount | null {
    const row = this.db.prepare('SELECT * FROM azure_accounts WHERE name = ?').get(name) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  list(): AzureAccount[] {
    return (this.db.prepare('SELECT * FROM azure_accounts ORDER BY name').all() as Row[]).map(fromRow);
  }

  remove(id: string): void {
    this.db.prepare('DELETE FROM azure_accounts WHERE id = ?').run(id);
  }
}
