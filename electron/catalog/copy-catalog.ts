// Repositories and the copies of each point in them. The primary repository holds every point
// (snapshot tier); copy repositories, placed in a region and zone, hold what copy jobs put there
// after checking its hashes (vault tier). Tape copies are in the tape catalog; they are listed
// here as the vault tier too.
import type { PointCopy, RepositorySite } from '../../shared/domain.ts';
import type { CatalogDatabase } from './database.ts';

type SiteRow = {
  id: string;
  name: string;
  path: string;
  region: string;
  zone: string;
  role: 'primary' | 'copy';
  block_size: number;
  created_at: string;
};

function siteFromRow(row: SiteRow): RepositorySite {
  return {
    id: row.id,
    name: row.name,
    path: row.path,
    region: row.region,
    zone: row.zone,
    role: row.role,
    blockSize: row.block_size,
    createdAt: row.created_at,
  };
}

export class CopyCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  /** The primary first, then the copies by name. */
  sites(): RepositorySite[] {
    return (this.db.prepare("SELECT * FROM repositories ORDER BY role = 'copy', name").all() as SiteRow[]).map(siteFromRow);
  }

  site(nameOrId: string): RepositorySite | null {
    const row = this.db.prepare('SELECT * FROM repositories WHERE name = ? OR id = ?').get(nameOrId, nameOrId) as SiteRow | undefined;
    return row ? siteFromRow(row) : null;
  }

  addSite(site: RepositorySite): void {
    this.db
      .prepare('INSERT INTO repositories (id, name, path, block_size, created_at, region, zone, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(site.id, site.name, site.path, site.blockSize, site.createdAt, site.region, site.zone, site.role);
  }

  locate(id: string, region: string, zone: string): void {
    this.db.prepare('UPDATE repositories SET region = ?, zone = ? WHERE id = ?').run(region, zone, id);
  }

  removeSite(id: string): void {
    this.db.prepare('DELETE FROM repositories WHERE id = ? AND role = ?').run(id, 'copy');
  }

  recordCopy(pointId: string, repositoryId: string, dataSha256: string, bytes: number): void {
    this.db
      .prepare(
        `INSERT INTO point_copies (point_id, repository_id, data_sha256, bytes, copied_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(point_id, repository_id) DO UPDATE SET data_sha256 = excluded.data_sha256, bytes = excluded.bytes, copied_at = excluded.copied_at`,
      )
      .run(pointId, repositoryId, dataSha256, bytes, new Date().toISOString());
  }

  /** The copy repositories holding a point (by the catalog), with the hash of its data file. */
  copyRows(pointId: string): { repositoryId: string; dataSha256: string; copiedAt: string }[] {
    return this.db
      .prepare(
        'SELECT repository_id AS repositoryId, data_sha256 AS dataSha256, copied_at AS copiedAt FROM point_copies WHERE point_id = ?',
      )
      .all(pointId) as { repositoryId: string; dataSha256: string; copiedAt: string }[];
  }

  /** Every copy of a point as the catalog knows it: its repository, copy repositories, tape. */
  pointCopies(pointId: string): PointCopy[] {
    const home = this.db
      .prepare(
        'SELECT r.name, r.region, r.zone, p.created_at FROM restore_points p JOIN backups b ON b.id = p.backup_id JOIN repositories r ON r.id = b.repository_id WHERE p.id = ?',
      )
      .get(pointId) as { name: string; region: string; zone: string; created_at: string } | undefined;
    const copies = this.db
      .prepare(
        'SELECT r.name, r.region, r.zone, c.copied_at FROM point_copies c JOIN repositories r ON r.id = c.repository_id WHERE c.point_id = ? ORDER BY r.name',
      )
      .all(pointId) as { name: string; region: string; zone: string; copied_at: string }[];
    const tapes = this.db
      .prepare(
        `SELECT group_concat(v.barcode, ', ') AS barcodes, MIN(v.written_at) AS written_at FROM tape_copies c JOIN tape_volumes v ON v.media_set_id = c.media_set_id WHERE c.point_id = ? GROUP BY c.media_set_id`,
      )
      .all(pointId) as { barcodes: string; written_at: string }[];
    const result: PointCopy[] = [];
    if (home)
      result.push({
        kind: 'repository',
        name: home.name,
        region: home.region,
        zone: home.zone,
        tier: 'snapshot',
        state: 'complete',
        copiedAt: home.created_at,
      });
    // Fastest first: copies in the primary's region before those in other regions.
    const near = (copy: { region: string }): number => (copy.region === home?.region ? 0 : 1);
    for (const copy of [...copies].sort((a, b) => near(a) - near(b)))
      result.push({
        kind: 'repository',
        name: copy.name,
        region: copy.region,
        zone: copy.zone,
        tier: 'vault',
        state: 'complete',
        copiedAt: copy.copied_at,
      });
    for (const tape of tapes)
      result.push({
        kind: 'tape',
        name: tape.barcodes,
        region: null,
        zone: null,
        tier: 'vault',
        state: 'complete',
        copiedAt: tape.written_at,
      });
    return result;
  }
}
