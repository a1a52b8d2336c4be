// A self-signed X.509 v3 server certificate (ECDSA P-256, SHA-256) for the console: it names the
// console's host names and addresses, is a leaf (not a CA), and is for TLS servers only.
import { generateKeyPairSync } from 'node:crypto';
import { certificateDer, toPem } from '../../x509/certificate.ts';

export type SelfSignedRequest = {
  /** DNS names and IP addresses the certificate is for; the first is also its common name. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
};
export type SelfSigned = { certPem: string; keyPem: string };

/** A new P-256 key and a certificate for it, both PEM. */
export function makeSelfSigned(request: SelfSignedRequest): SelfSigned {
  const [commonName] = request.names;
  if (commonName === undefined) throw new RangeError('a certificate needs at least one name');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { der } = certificateDer(
    { commonName, publicKey, notBefore: request.notBefore, notAfter: request.notAfter, use: { kind: 'server', names: request.names } },
    { commonName, privateKey, publicKey },
  );
  return { certPem: toPem('CERTIFICATE', der), keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}
