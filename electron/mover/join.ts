// A mover's first connection: no client certificate yet, so it trusts nothing the TLS layer says
// and checks the engine itself against the CA fingerprint its token pins: the CA certificate
// sent after the engine's leaf must have that fingerprint and must have signed the leaf (the
// handshake proved the leaf's key). Then `join` (token + public key) and the engine's answer.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { LifeboatError } from '../errors.ts';
import { EngineLink, EngineRefused, openTls } from './engine-link.ts';
import { parseJoinToken } from '../movers/join-token.ts';

export type Joined = { moverName: string; certificatePem: string; caPem: string };

const sha256Hex = (der: Buffer): string => createHash('sha256').update(der).digest('hex');
/** Extended key usage "TLS server": what the engine's listener certificate, and no mover's, says. */
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** Throws 'forbidden' unless the engine's chain ends in the pinned CA. */
export function checkPinnedChain(socket: TLSSocket, pinned: string, engine: string): void {
  const leaf: PeerCertificate & { issuerCertificate?: PeerCertificate } = socket.getPeerCertificate(true);
  const issuer = leaf.issuerCertificate;
  if (!leaf.raw || !issuer?.raw || issuer.raw.equals(leaf.raw))
    throw new LifeboatError(
      'forbidden',
      `the engine at ${engine} sent no CA certificate after its own; it cannot be checked against the token`,
    );
  const found = sha256Hex(issuer.raw);
  if (found !== pinned)
    throw new LifeboatError(
      'forbidden',
      `the engine at ${engine} presents CA ${found}, not the CA ${pinned} the token pins: it is not the engine that issued the token`,
    );
  const presented = new X509Certificate(leaf.raw);
  if (!presented.verify(new X509Certificate(issuer.raw).publicKey))
    throw new LifeboatError('forbidden', `the engine at ${engine} presents a certificate its pinned CA did not sign`);
  // The same CA signs the movers' client certificates: one of those, stolen, must not pass for the engine.
  if (!(presented.keyUsage ?? []).includes(SERVER_AUTH))
    throw new LifeboatError(
      'forbidden',
      `the engine at ${engine} presents a certificate its CA issued, but not for a server: not the engine's`,
    );
}

/** What `joined` carried must be for our key, under the pinned CA. */
function checkIssued(joined: Joined, publicKeyPem: string, pinned: string): void {
  let certificate: X509Certificate;
  let ca: X509Certificate;
  try {
    certificate = new X509Certificate(joined.certificatePem);
    ca = new X509Certificate(joined.caPem);
  } catch (error) {
    throw new LifeboatError('forbidden', `the engine sent a certificate that does not parse: ${(error as Error).message}`);
  }
  if (sha256Hex(ca.raw) !== pinned) throw new LifeboatError('forbidden', 'the engine sent a CA other than the one the token pins');
  if (!certificate.verify(ca.publicKey)) throw new LifeboatError('forbidden', 'the engine sent a certificate its CA did not sign');
  const ours = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(ours))
    throw new LifeboatError('forbidden', "the engine sent a certificate for another key than this mover's");
}

export async function join(
  engine: { host: string; port: number },
  token: string,
  publicKeyPem: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<Joined> {
  const pinned = parseJoinToken(token).caFingerprint;
  const where = `${engine.host}:${engine.port}`;
  // No CA to verify against yet: the pinned fingerprint below is the trust.
  const socket = await openTls({ host: engine.host, port: engine.port, rejectUnauthorized: false }, timeoutMs, stop);
  const link = new EngineLink(socket, timeoutMs);
  try {
    checkPinnedChain(socket, pinned, where);
    const answer = link.next();
    await link.send({ type: 'join', token, publicKeyPem });
    const { message } = await answer;
    if (message.type === 'refused') throw new EngineRefused(message.code, message.message);
    if (message.type !== 'joined') throw new LifeboatError('unavailable', `the engine answered join with ${message.type}`);
    const joined = { moverName: message.moverName, certificatePem: message.certificatePem, caPem: message.caPem };
    checkIssued(joined, publicKeyPem, pinned);
    return joined;
  } finally {
    link.close('joined');
  }
}
