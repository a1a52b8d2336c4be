// Who may be a mover: `add` records a mover and prints a one-time join token; `redeem` trades the
// token (once, within the hour) for a client certificate the engine's CA issues for the mover's own
// key; from then on the mover connects with mutual TLS and `authorize` accepts only its current
// certificate, until `remove` revokes it. Certificates last 30 days and are renewed after 20.
import { createHash, randomBytes, randomUUID, timingSafeEqual, X509Certificate } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { CatalogMover } from '../catalog/mover-catalog.ts';
import { LifeboatError } from '../errors.ts';
import { commonNameOf, fingerprintSha256, issueCertificate, issuedBy, p256PublicKey } from '../x509/authority.ts';
import { serialHex } from '../x509/certificate.ts';
import { formatJoinToken, parseJoinToken } from './join-token.ts';
import { CLOCK_SKEW_MS, openMoverAuthority, type MoverAuthority } from './mover-authority.ts';

export { parseJoinToken };

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const TOKEN_LIFETIME_MS = HOUR_MS;
const CERTIFICATE_DAYS = 30;

export type MoverRecord = {
  id: string;
  name: string;
  host: string;
  proxyVm: string | null;
  joined: boolean;
  removed: boolean;
  certificateSerial: string | null;
  certificateExpiresAt: string | null;
  createdAt: string;
};
export type IssuedCertificate = { certificatePem: string; certificateExpiresAt: string; renewAfter: string };

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

function recordOf(mover: CatalogMover): MoverRecord {
  return {
    id: mover.id,
    name: mover.name,
    host: mover.host,
    proxyVm: mover.proxyVm,
    joined: mover.joinedAt !== null,
    removed: mover.removedAt !== null,
    certificateSerial: mover.certificateSerial,
    certificateExpiresAt: mover.certificateExpiresAt,
    createdAt: mover.createdAt,
  };
}

const forbidden = (message: string): LifeboatError => new LifeboatError('forbidden', message);
const removedMessage = (name: string): string =>
  `mover ${name} was removed; its certificate is revoked (\`lifeboat movers add ${name}\` lets it join again with a new token)`;

export class MoverEnrollment {
  private readonly catalog: Catalog;
  private readonly trust: MoverAuthority;
  private readonly authorityCertificate: X509Certificate;
  private readonly now: () => Date;

  private constructor(catalog: Catalog, trust: MoverAuthority, now: () => Date) {
    this.catalog = catalog;
    this.trust = trust;
    this.authorityCertificate = new X509Certificate(trust.authority.certPem);
    this.now = now;
  }

  /** `folder` is <home>/movers: the CA and the listener's key and certificate, made on first open.
   * `now` is for tests (token and certificate lifetimes). */
  static async open(deps: { catalog: Catalog; folder: string; now?: () => Date }): Promise<MoverEnrollment> {
    const now = deps.now ?? (() => new Date());
    return new MoverEnrollment(deps.catalog, await openMoverAuthority(deps.folder, now()), now);
  }

  /** Records a mover of a host in the catalog and returns its join token (shown once: only its
   * secret's SHA-256 is kept). */
  add(request: { name: string; host: string; proxyVm: string | null }, actor: string): { mover: MoverRecord; token: string } {
    const secret = randomBytes(32).toString('base64url');
    const now = this.now();
    const tokenExpiresAt = new Date(now.getTime() + TOKEN_LIFETIME_MS).toISOString();
    const mover = this.catalog.movers.add({
      id: randomUUID(),
      name: request.name,
      host: request.host,
      proxyVm: request.proxyVm,
      tokenSha256: sha256Hex(secret),
      tokenExpiresAt,
      createdAt: now.toISOString(),
    });
    this.catalog.audit(actor, 'movers.add', mover.id, { name: mover.name, host: mover.host, proxyVm: mover.proxyVm, tokenExpiresAt });
    return { mover: recordOf(mover), token: formatJoinToken({ moverId: mover.id, secret, caFingerprint: this.caFingerprint() }) };
  }

  /** Trades a join token for the mover's first certificate, once; 'forbidden' when the token is
   * unknown, used, expired, for another engine, or its mover was removed. */
  redeem(token: string, publicKeyPem: string): { mover: MoverRecord; caPem: string } & IssuedCertificate {
    const parsed = parseJoinToken(token);
    if (parsed.caFingerprint !== this.caFingerprint())
      throw forbidden("the join token was made by another engine (its CA fingerprint is not this engine's)");
    const mover = this.catalog.movers.byId(parsed.moverId);
    const presented = Buffer.from(sha256Hex(parsed.secret), 'hex');
    if (!mover || !timingSafeEqual(presented, Buffer.from(mover.tokenSha256, 'hex')))
      throw forbidden('the join token is not one this engine issued (`lifeboat movers add` prints a new one)');
    if (mover.removedAt !== null) throw forbidden(removedMessage(mover.name));
    if (mover.joinedAt !== null)
      throw forbidden(`the join token of mover ${mover.name} was used already; a token joins once (remove the mover and add it again)`);
    if (this.now() >= new Date(mover.tokenExpiresAt))
      throw forbidden(`the join token of mover ${mover.name} expired at ${mover.tokenExpiresAt} (remove the mover and add it again)`);
    const { issued, serial } = this.issue(mover.name, publicKeyPem);
    const certificate = { serial, expiresAt: issued.certificateExpiresAt };
    if (!this.catalog.movers.markJoined(mover.id, mover.tokenSha256, certificate, this.now().toISOString()))
      throw forbidden(`the join token of mover ${mover.name} was used already; a token joins once`);
    this.catalog.audit(`mover:${mover.name}`, 'movers.joined', mover.id, { serial });
    return { mover: recordOf(this.catalog.movers.byId(mover.id) as CatalogMover), caPem: this.trust.authority.certPem, ...issued };
  }

  /** The mover a client certificate belongs to, when it is that mover's current certificate from
   * this engine's CA (TLS has verified the chain; this checks revocation and renewal). */
  authorize(peer: X509Certificate): MoverRecord {
    if (!issuedBy(peer, this.authorityCertificate, this.now()))
      throw forbidden("the certificate was not issued by this engine's mover CA (or is outside its validity)");
    const name = commonNameOf(peer.subject);
    const mover = name === null ? null : this.catalog.movers.find(name);
    if (!mover) throw forbidden(`no mover "${name ?? ''}" is known to this engine`);
    if (mover.removedAt !== null) throw forbidden(removedMessage(mover.name));
    if (mover.certificateSerial !== serialHex(peer.serialNumber))
      throw forbidden(`mover ${mover.name} presented a certificate that is no longer its own (it was renewed, or the mover joined again)`);
    return recordOf(mover);
  }

  /** A new certificate for a joined mover (its old one is refused from now on). */
  renew(moverId: string, publicKeyPem: string): IssuedCertificate {
    const mover = this.catalog.movers.byId(moverId);
    if (!mover) throw forbidden(`no mover ${moverId} is known to this engine`);
    if (mover.removedAt !== null) throw forbidden(removedMessage(mover.name));
    if (mover.joinedAt === null) throw forbidden(`mover ${mover.name} has not joined`);
    const { issued, serial } = this.issue(mover.name, publicKeyPem);
    if (!this.catalog.movers.replaceCertificate(mover.id, { serial, expiresAt: issued.certificateExpiresAt }))
      throw forbidden(removedMessage(mover.name));
    this.catalog.audit(`mover:${mover.name}`, 'movers.renewed', mover.id, { serial });
    return issued;
  }

  /** Revokes the mover: its certificate and token are refused from now on; its name is free. */
  remove(name: string, actor: string): MoverRecord {
    const mover = this.catalog.movers.findLive(name);
    if (!mover) throw new LifeboatError('not-found', `no mover "${name}"`);
    this.catalog.movers.markRemoved(mover.id, this.now().toISOString());
    this.catalog.audit(actor, 'movers.remove', mover.id, { name, serial: mover.certificateSerial });
    return recordOf(this.catalog.movers.byId(mover.id) as CatalogMover);
  }

  list(): MoverRecord[] {
    return this.catalog.movers.list().map(recordOf);
  }

  /** The mover of that name (not removed, else the last removed). */
  find(name: string): MoverRecord | null {
    const mover = this.catalog.movers.find(name);
    return mover ? recordOf(mover) : null;
  }

  /** What the mover listener serves with: its key, its certificate followed by the CA's, and the
   * CA that client certificates must chain to. */
  serverTls(): { key: string; cert: string; ca: string } {
    const { authority, listener } = this.trust;
    return { key: listener.keyPem, cert: listener.certPem + authority.certPem, ca: authority.certPem };
  }

  /** SHA-256 of the CA certificate's DER, lowercase hex: what join tokens pin. */
  caFingerprint(): string {
    return fingerprintSha256(this.trust.authority.certPem);
  }

  private issue(name: string, publicKeyPem: string): { issued: IssuedCertificate; serial: string } {
    const publicKey = p256PublicKey(publicKeyPem);
    const now = this.now().getTime();
    const issued = issueCertificate(this.trust.authority, {
      commonName: name,
      publicKey,
      use: { kind: 'client' },
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + CERTIFICATE_DAYS * DAY_MS),
    });
    return {
      issued: {
        certificatePem: issued.certPem,
        certificateExpiresAt: issued.notAfter.toISOString(),
        renewAfter: new Date(now + ((CERTIFICATE_DAYS * 2) / 3) * DAY_MS).toISOString(),
      },
      serial: issued.serial,
    };
  }
}
