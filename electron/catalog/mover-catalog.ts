// The data movers of the home (table movers, migration 23): who may join (a token's SHA-256 until
// it is redeemed or expires), which certificate each joined mover holds now, and which were removed.
import { LifeboatError } from '../errors.ts';
import type { CatalogDatabase } from './database.ts';

/** A mover as the catalog keeps it; `host` is the vSphere host's name. */
export type CatalogMover = {
  id: string;
  name: string;
  host: string;
  proxyVm: string | null;
  tokenSha256: string;
  tokenExpiresAt: string;
  joinedAt: string | null;
  certificateSerial: string | null;
  certificateExpiresAt: string | null;
  createdAt: string;
  removedAt: string | null;
};

type Row = {
  id: string;
  name: string;
  host: string;
  proxy_vm: string | null;
  token_sha256: string;
  token_expires_at: string;
  joined_at: string | null;
  certificate_serial: string | null;
  certificate_expires_at: string | null;
  created_at: string;
  removed_at: string | null;
};

const SELECT = 'SELECT m.*, h.name AS host FROM movers m JOIN hosts h ON h.id = m.host_id';

function fromRow(row: Row): CatalogMover {
  return {
    id: row.id,
    name: row.name,
    host: row.host,
    proxyVm: row.proxy_vm,
    tokenSha256: row.token_sha256,
    tokenExpiresAt: row.token_expires_at,
    joinedAt: row.joined_at,
    certificateSerial: row.certificate_serial,
    certificateExpiresAt: row.certificate_expires_at,
    createdAt: row.created_at,
    removedAt: row.removed_at,
  };
}

export class MoverCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  /** Adds a mover that has not joined yet. Its host must be in the catalog, and its name must be
   * neither a proxy's (the hub lists movers as proxies) nor another mover's that is not removed. */
  add(mover: Pick<CatalogMover, 'id' | 'name' | 'host' | 'proxyVm' | 'tokenSha256' | 'tokenExpiresAt' | 'createdAt'>): CatalogMover {
    return this.db.transaction(() => {
      const host = this.db.prepare('SELECT id FROM hosts WHERE name = ?').get(mover.host) as { id: string } | undefined;
      if (!host) throw new LifeboatError('not-found', `no host "${mover.host}" in the catalog`);
      if (this.db.prepare('SELECT 1 FROM proxies WHERE name = ?').get(mover.name))
        throw new LifeboatError('conflict', `a proxy named "${mover.name}" already exists; a mover needs a name of its own`);
      if (this.findLive(mover.name)) throw new LifeboatError('conflict', `a mover named "${mover.name}" already exists`);
      this.db
        .prepare(
          'INSERT INTO movers (id, name, host_id, proxy_vm, token_sha256, token_expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(mover.id, mover.name, host.id, mover.proxyVm, mover.tokenSha256, mover.tokenExpiresAt, mover.createdAt);
      return this.byId(mover.id) as CatalogMover;
    })();
  }

  byId(id: string): CatalogMover | null {
    const row = this.db.prepare(`${SELECT} WHERE m.id = ?`).get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** The mover of that name that is not removed. */
  findLive(name: string): CatalogMover | null {
    const row = this.db.prepare(`${SELECT} WHERE m.name = ? AND m.removed_at IS NULL`).get(name) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** The mover of that name that is not removed, else the one of that name removed last. */
  find(name: string): CatalogMover | null {
    const row = this.db
      .prepare(`${SELECT} WHERE m.name = ? ORDER BY m.removed_at IS NULL DESC, m.removed_at DESC, m.created_at DESC LIMIT 1`)
      .get(name) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** Every mover, removed ones included, by name. */
  list(): CatalogMover[] {
    return (this.db.prepare(`${SELECT} ORDER BY m.name, m.created_at`).all() as Row[]).map(fromRow);
  }

  /** Redeems the token: true only for the one call that finds the mover not joined, not removed,
   * with that token hash (so two joins racing with one token cannot both succeed). */
  markJoined(id: string, tokenSha256: string, certificate: { serial: string; expiresAt: string }, at: string): boolean {
    return (
      this.db
        .prepare(
          `UPDATE movers SET joined_at = ?, certificate_serial = ?, certificate_expires_at = ?
           WHERE id = ? AND token_sha256 = ? AND joined_at IS NULL AND removed_at IS NULL`,
        )
        .run(at, certificate.serial, certificate.expiresAt, id, tokenSha256).changes === 1
    );
  }

  /** The mover's certificate from now on (a renewal): the one before it is no longer accepted. */
  replaceCertificate(id: string, certificate: { serial: string; expiresAt: string }): boolean {
    return (
      this.db
        .prepare(
          'UPDATE movers SET certificate_serial = ?, certificate_expires_at = ? WHERE id = ? AND joined_at IS NOT NULL AND removed_at IS NULL',
        )
        .run(certificate.serial, certificate.expiresAt, id).changes === 1
    );
  }

  markRemoved(id: string, at: string): void {
    this.db.prepare('UPDATE movers SET removed_at = ? WHERE id = ? AND removed_at IS NULL').run(at, id);
  }

  /** Names of the movers of a host that are not removed (a host is not removed under them). */
  liveNamesOfHost(hostId: string): string[] {
    return (
      this.db.prepare('SELECT name FROM movers WHERE host_id = ? AND removed_at IS NULL ORDER BY name').all(hostId) as { name: string }[]
    ).map((row) => row.name);
  }
}
