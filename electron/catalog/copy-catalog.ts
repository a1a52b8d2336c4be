// Repositories and the copies of each point in them. The primary repository holds every point
// (snapshot tier); copy repositories, placed in a region and zone, hold what copy jobs put there
// after checking its hashes (vault tier). Tape copies are in the tape catalog; they are listed
// here as the vault tier too.
import type { PointCopy, RepositorySite } from '../../shared/domain.ts';
import type { CatalogDatabase } from './database.ts';
import { statementOf } from './statements.ts';

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

  /** Every copy of each point of a VM as the catalog knows it, by point: its repository, copy
   * repositories (fastest first), tapes. Three queries for the whole VM, not three per point: on
   * PostgreSQL each is a round trip. */
  pointCopiesOf(vmId: string): Map<string, PointCopy[]> {
    const homes = statementOf(
      this.db,
      'SELECT p.id AS point_id, r.name, r.region, r.zone, p.created_at FROM restore_points p JOIN backups b ON b.id = p.backup_id JOIN repositories r ON r.id = b.repository_id WHERE p.vm_id = ?',
    ).all(vmId) as { point_id: string; name: string; region: string; zone: string; created_at: string }[];
    const copies = statementOf(
      this.db,
      'SELECT c.point_id, r.name, r.region, r.zone, c.copied_at FROM point_copies c JOIN repositories r ON r.id = c.repository_id JOIN restore_points p ON p.id = c.point_id WHERE p.vm_id = ? ORDER BY c.point_id, r.name',
    ).all(vmId) as { point_id: string; name: string; region: string; zone: string; copied_at: string }[];
    const tapes = statementOf(
      this.db,
      `SELECT c.point_id, group_concat(v.barcode, ', ') AS barcodes, MIN(v.written_at) AS written_at FROM tape_copies c JOIN tape_volumes v ON v.media_set_id = c.media_set_id JOIN restore_points p ON p.id = c.point_id WHERE p.vm_id = ? GROUP BY c.point_id, c.media_set_id`,
    ).all(vmId) as { point_id: string; barcodes: string; written_at: string }[];
    const byPoint = new Map<string, PointCopy[]>();
    const regionOf = new Map<string, string>();
    for (const home of homes) {
      regionOf.set(home.point_id, home.region);
      byPoint.set(home.point_id, [
        {
          kind: 'repository',
          name: home.name,
          region: home.region,
          zone: home.zone,
          tier: 'snapshot',
          state: 'complete',
          copiedAt: home.created_at,
        },
      ]);
    }
    const listOf = (pointId: string): PointCopy[] => {
      let list = byPoint.get(pointId);
      if (!list) byPoint.set(pointId, (list = []));
      return list;
    };
    // Fastest first: copies in the primary's region before those in other regions (a stable sort keeps names in order).
    const near = (copy: { point_id: string; region: string }): number => (copy.region === regionOf.get(copy.point_id) ? 0 : 1);
    for (const copy of [...copies].sort((a, b) => near(a) - near(b)))
      listOf(copy.point_id).push({
        kind: 'repository',
        name: copy.name,
        region: copy.region,
        zone: copy.zone,
        tier: 'vault',
        state: 'complete',
        copiedAt: copy.copied_at,
      });
    for (const tape of tapes)
      listOf(tape.point_id).push({
        kind: 'tape',
        name: tape.barcodes,
        region: null,
        zone: null,
        tier: 'vault',
        state: 'complete',
        copiedAt: tape.written_at,
      });
    return byPoint;
  }
}
