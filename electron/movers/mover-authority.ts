// The engine's certificate authority for movers and the mover listener's own certificate, kept in
// <home>/movers (folder 0700, keys 0600). The CA is made once: join tokens pin its fingerprint and
// every mover trusts it, so a CA that cannot be read stops the engine rather than being replaced
// behind the movers' backs. The listener's certificate is made again whenever it no longer fits.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { issueCertificate, issuedBy, makeAuthority, type Authority } from '../x509/authority.ts';

const DAY_MS = 86_400_000;
const AUTHORITY_DAYS = 3650;
const LISTENER_DAYS = 397;
const LISTENER_RENEW_WITHIN_DAYS = 30;
/** Certificates start a little in the past: a mover's clock may be behind the engine's. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export type MoverAuthority = { authority: Authority; listener: { keyPem: string; certPem: string } };

const files = (folder: string) => ({
  caKey: join(folder, 'ca-key.pem'),
  caCert: join(folder, 'ca-cert.pem'),
  listenerKey: join(folder, 'listener-key.pem'),
  listenerCert: join(folder, 'listener-cert.pem'),
});

async function readIfThere(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
}

/** Written aside and renamed, key first: a crash leaves the old pair or one that does not match. */
async function writePair(keyPath: string, keyPem: string, certPath: string, certPem: string): Promise<void> {
  await writeFile(`${keyPath}.new`, keyPem, { mode: 0o600 });
  await chmod(`${keyPath}.new`, 0o600);
  await writeFile(`${certPath}.new`, certPem, { mode: 0o644 });
  await rename(`${keyPath}.new`, keyPath);
  await rename(`${certPath}.new`, certPath);
}

/** The names a mover may dial the listener by: loopback, this machine's name and addresses. */
export function listenerNames(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((entry) => !entry.internal && !entry.address.includes('%'))
    .map((entry) => entry.address);
  return [...new Set(['localhost', hostname(), '127.0.0.1', '::1', ...addresses])];
}

const names = (certificate: X509Certificate, name: string): boolean =>
  (isIP(name) ? certificate.checkIP(name) : certificate.checkHost(name)) !== undefined;

async function openAuthority(paths: ReturnType<typeof files>, now: Date): Promise<Authority> {
  const [keyPem, certPem] = [await readIfThere(paths.caKey), await readIfThere(paths.caCert)];
  if (keyPem === null && certPem === null) {
    const made = makeAuthority(`Lifeboat movers CA ${randomBytes(4).toString('hex')}`, {
      notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(now.getTime() + AUTHORITY_DAYS * DAY_MS),
    });
    await writePair(paths.caKey, made.keyPem, paths.caCert, made.certPem);
    return made;
  }
  const damaged = (why: string) =>
    new LifeboatError(
      'internal',
      `the movers' certificate authority in ${paths.caCert} ${why}; restore it from a copy of the home, or move ca-*.pem aside ` +
        'to make a new one (every mover then has to be removed and added again)',
    );
  if (keyPem === null || certPem === null) throw damaged(`has lost its ${keyPem === null ? 'key' : 'certificate'}`);
  try {
    const certificate = new X509Certificate(certPem);
    if (!certificate.ca || !certificate.checkPrivateKey(createPrivateKey(keyPem))) throw damaged('does not match its key');
    if (new Date(certificate.validTo) <= now) throw damaged(`expired on ${certificate.validTo}`);
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    throw damaged('cannot be read');
  }
  return { keyPem, certPem };
}

/** Why the stored listener certificate cannot serve now, or null when it can. */
async function listenerUnfit(paths: ReturnType<typeof files>, authority: Authority, now: Date): Promise<string | null> {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(await readFile(paths.listenerCert));
    if (!certificate.checkPrivateKey(createPrivateKey(await readFile(paths.listenerKey)))) return 'its key does not match';
  } catch {
    return 'there is none yet (or it cannot be read)';
  }
  if (!issuedBy(certificate, new X509Certificate(authority.certPem), now)) return 'the CA did not issue it';
  if (new Date(certificate.validTo).getTime() - now.getTime() < LISTENER_RENEW_WITHIN_DAYS * DAY_MS)
    return `it ends on ${certificate.validTo}`;
  const missing = listenerNames().find((name) => !names(certificate, name));
  return missing === undefined ? null : `it does not name ${missing}`;
}

/** The CA (made on first open) and a listener certificate that fits now. */
export async function openMoverAuthority(folder: string, now: Date): Promise<MoverAuthority> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const paths = files(folder);
  const authority = await openAuthority(paths, now);
  if ((await listenerUnfit(paths, authority, now)) === null)
    return {
      authority,
      listener: { keyPem: await readFile(paths.listenerKey, 'utf8'), certPem: await readFile(paths.listenerCert, 'utf8') },
    };
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = issueCertificate(authority, {
    commonName: hostname(),
    publicKey,
    use: { kind: 'server', names: listenerNames() },
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + LISTENER_DAYS * DAY_MS),
  });
  const listener = { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), certPem: issued.certPem };
  await writePair(paths.listenerKey, listener.keyPem, paths.listenerCert, listener.certPem);
  return { authority, listener };
}
