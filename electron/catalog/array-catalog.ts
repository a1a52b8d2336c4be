// Storage arrays Lifeboat drives, and their snapshots as restore points (the snapshot tier): each
// snapshot with the VMs found on it, so a restore can offer it next to the backups.
import type { StorageSnapshotPoint } from '../../shared/domain.ts';
import type { CatalogDatabase } from './database.ts';

type SnapshotRow = { id: string; array_name: string; volume: string; created_at: string; vms: string };

function fromRow(row: SnapshotRow): StorageSnapshotPoint {
  return {
    id: row.id,
    array: row.array_name,
    volume: row.volume,
    createdAt: row.created_at,
    vms: JSON.parse(row.vms) as StorageSnapshotPoint['vms'],
  };
}

export class ArrayCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  add(name: string, path: string): void {
    this.db.prepare('INSERT INTO arrays (name, path, created_at) VALUES (?, ?, ?)').run(name, path, new Date().toISOString());
  }

  find(name: string): { name: string; path: string } | null {
    return (
      (this.db.prepare('SELECT name, path FROM arrays WHERE name = ?').get(name) as { name: string; path: string } | undefined) ?? null
    );
  }

  list(): { name: string; path: string }[] {
    return this.db.prepare('SELECT name, path FROM arrays ORDER BY name').all() as { name: string; path: string }[];
  }

  recordSnapshot(snapshot: StorageSnapshotPoint): void {
    this.db
      .prepare('INSERT INTO storage_snapshots (id, array_name, volume, created_at, vms) VALUES (?, ?, ?, ?, ?)')
      .run(snapshot.id, snapshot.array, snapshot.volume, snapshot.createdAt, JSON.stringify(snapshot.vms));
  }

  snapshot(id: string): StorageSnapshotPoint | null {
    const row = this.db.prepare('SELECT * FROM storage_snapshots WHERE id = ?').get(id) as SnapshotRow | undefined;
    return row ? fromRow(row) : null;
  }

  /** Newest first; with a VM name, the snapshots that hold it. */
  snapshots(vmName?: string): StorageSnapshotPoint[] {
    const all = (this.db.prepare('SELECT * FROM storage_snapshots ORDER BY created_at DESC').all() as SnapshotRow[]).map(fromRow);
    return vmName === undefined ? all : all.filter((snapshot) => snapshot.vms.some((vm) => vm.name.toLowerCase() === vmName.toLowerCase()));
  }
}
