// A small certificate authority: a self-signed CA certificate and the certificates it issues for
// public keys others hold (a mover's client key, a listener's server key). node:crypto only.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import { certificateDer, toPem, type CertificateUse } from './certificate.ts';

/** The CA's certificate and private key, PEM. */
export type Authority = { certPem: string; keyPem: string };
export type Validity = { notBefore: Date; notAfter: Date };
export type Issued = { certPem: string; serial: string; notAfter: Date };

/** A new authority (its own P-256 key) named `commonName`. */
export function makeAuthority(commonName: string, validity: Validity): Authority {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { der } = certificateDer({ commonName, publicKey, ...validity, use: { kind: 'authority' } }, { commonName, privateKey, publicKey });
  return { certPem: toPem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The common name in a subject or issuer as node:crypto prints it ("O=Lifeboat\nCN=…"). */
export function commonNameOf(printed: string): string | null {
  return /^CN=(.*)$/m.exec(printed)?.[1] ?? null;
}

/** A public key given as SPKI PEM, refused with 'bad-request' unless it is an ECDSA P-256 key. */
export function p256PublicKey(publicKeyPem: string): KeyObject {
  let key: KeyObject;
  try {
    if (!publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('not an SPKI PEM');
    key = createPublicKey({ key: publicKeyPem, format: 'pem' });
  } catch (error) {
    throw new LifeboatError('bad-request', 'the public key is not a PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY")', { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new LifeboatError('bad-request', `the public key is ${key.asymmetricKeyType ?? 'of no known type'}, not ECDSA P-256`);
  return key;
}

/** A certificate for `publicKey`, signed by the authority. */
export function issueCertificate(
  authority: Authority,
  request: { commonName: string; publicKey: KeyObject; use: CertificateUse } & Validity,
): Issued {
  const ca = new X509Certificate(authority.certPem);
  const caName = commonNameOf(ca.subject);
  if (caName === null) throw new LifeboatError('internal', 'the CA certificate has no common name');
  const { der, serial } = certificateDer(request, {
    commonName: caName,
    privateKey: createPrivateKey(authority.keyPem),
    publicKey: ca.publicKey,
  });
  return { certPem: toPem('CERTIFICATE', der), serial, notAfter: request.notAfter };
}

/** SHA-256 of a certificate's DER, lowercase hex (what a join token pins). */
export function fingerprintSha256(certPem: string): string {
  return createHash('sha256').update(new X509Certificate(certPem).raw).digest('hex');
}

/** Is `certificate` signed by the authority's key, named by it as issuer, and within its validity at `now`? */
export function issuedBy(certificate: X509Certificate, authorityCert: X509Certificate, now: Date): boolean {
  return (
    certificate.checkIssued(authorityCert) &&
    certificate.verify(authorityCert.publicKey) &&
    new Date(certificate.validFrom) <= now &&
    now < new Date(certificate.validTo)
  );
}
