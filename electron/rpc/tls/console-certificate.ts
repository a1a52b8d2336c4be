// The console's TLS certificate: the operator's (--tls-cert, --tls-key), checked before anything
// listens, or the engine's own, made on first start and kept in the home (key 0600) so its
// fingerprint stays the one the operator checked. The engine's is made again only when it no
// longer fits: unreadable, near its end, or not naming the host the console is asked to bind.
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError } from '../../errors.ts';
import type { TlsMaterial } from '../ws-server.ts';
import { makeSelfSigned } from './self-signed.ts';
import { readStoredPair, unnamed, writeStoredPair } from '../../x509/stored-pair.ts';

const DAY_MS = 86_400_000;
/** Below browsers' 398-day ceiling for server certificates. */
const SELF_SIGNED_DAYS = 397;
const RENEW_WITHIN_DAYS = 30;

export type ConsoleCertificate = TlsMaterial & {
  source: 'operator' | 'self-signed';
  /** SHA-256 of the certificate, colon-separated hex: what the operator compares. */
  fingerprint256: string;
  /** Base64 SHA-256 of the public key (SPKI): what pinning (and Chromium's spki list) wants. */
  spkiSha256: string;
  /** The engine made it on this start (a new fingerprint to check). */
  made: boolean;
};

function describe(certPem: string, keyPem: string, source: ConsoleCertificate['source'], made: boolean): ConsoleCertificate {
  const certificate = new X509Certificate(certPem);
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert: certPem,
    key: keyPem,
    source,
    made,
    fingerprint256: certificate.fingerprint256,
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

async function readOperatorFile(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new LifeboatError('bad-request', `${flag} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`, {
      cause: error,
    });
  }
}

/** The operator's certificate and key, refused with one clear error unless they make a server. */
export async function operatorCertificate(certFile: string, keyFile: string, now: Date): Promise<ConsoleCertificate> {
  const certPem = await readOperatorFile(certFile, '--tls-cert');
  const keyPem = await readOperatorFile(keyFile, '--tls-key');
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(certPem);
  } catch (error) {
    throw new LifeboatError('bad-request', `--tls-cert ${certFile} is not a PEM X.509 certificate`, { cause: error });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (error) {
    throw new LifeboatError('bad-request', `--tls-key ${keyFile} is not an unencrypted PEM private key`, { cause: error });
  }
  if (!certificate.checkPrivateKey(key))
    throw new LifeboatError('bad-request', `--tls-key ${keyFile} is not the key of the certificate in ${certFile}`);
  if (new Date(certificate.validTo) <= now)
    throw new LifeboatError('bad-request', `--tls-cert ${certFile} expired on ${certificate.validTo}`);
  if (new Date(certificate.validFrom) > now)
    throw new LifeboatError('bad-request', `--tls-cert ${certFile} is not valid before ${certificate.validFrom}`);
  return describe(certPem, keyPem, 'operator', false);
}

export function homeCertificatePaths(home: string): { folder: string; cert: string; key: string } {
  const folder = join(home, 'tls');
  return { folder, cert: join(folder, 'console-cert.pem'), key: join(folder, 'console-key.pem') };
}

/** Why the stored certificate cannot be used as it is, or null when it can. */
async function unfit(paths: { cert: string; key: string }, required: string[], now: Date): Promise<string | null> {
  const stored = await readStoredPair(paths);
  if ('unfit' in stored) return stored.unfit;
  const { certificate } = stored;
  if (new Date(certificate.validTo).getTime() - now.getTime() < RENEW_WITHIN_DAYS * DAY_MS) return `it ends on ${certificate.validTo}`;
  const missing = unnamed(certificate, required);
  return missing === undefined ? null : `it does not name ${missing}`;
}

/** The engine's own certificate for `names` (the first `required` ones must be on it). */
export async function homeCertificate(
  home: string,
  request: { names: string[]; required: string[]; now: Date },
  log: (line: string) => void = () => undefined,
): Promise<ConsoleCertificate> {
  const paths = homeCertificatePaths(home);
  const why = await unfit(paths, request.required, request.now);
  if (why === null) return describe(await readFile(paths.cert, 'utf8'), await readFile(paths.key, 'utf8'), 'self-signed', false);
  log(`making the console's certificate: ${why}`);
  const made = makeSelfSigned({
    names: request.names,
    notBefore: new Date(request.now.getTime() - DAY_MS),
    notAfter: new Date(request.now.getTime() + SELF_SIGNED_DAYS * DAY_MS),
  });
  await mkdir(paths.folder, { recursive: true, mode: 0o700 });
  await chmod(paths.folder, 0o700);
  // A crash while writing leaves the old pair or a pair that `unfit` refuses.
  await writeStoredPair(paths, made);
  return describe(made.certPem, made.keyPem, 'self-signed', true);
}
