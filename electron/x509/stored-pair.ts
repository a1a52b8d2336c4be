// A certificate and its private key kept as two PEM files (key 0600): read back whole or not at
// all, written so that a crash leaves the old pair or one that does not match (and is made again).
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';

export type PairPaths = { cert: string; key: string };
export type StoredPair = { certificate: X509Certificate; certPem: string; keyPem: string };

/** The pair, or why it cannot be used as it is. */
export async function readStoredPair(paths: PairPaths): Promise<StoredPair | { unfit: string }> {
  try {
    const [certPem, keyPem] = [await readFile(paths.cert, 'utf8'), await readFile(paths.key, 'utf8')];
    const certificate = new X509Certificate(certPem);
    if (!certificate.checkPrivateKey(createPrivateKey(keyPem))) return { unfit: 'its key does not match' };
    return { certificate, certPem, keyPem };
  } catch {
    return { unfit: 'there is none yet (or it cannot be read)' };
  }
}

/** Written aside and renamed, key first. */
export async function writeStoredPair(paths: PairPaths, pair: { certPem: string; keyPem: string }): Promise<void> {
  await writeFile(`${paths.key}.new`, pair.keyPem, { mode: 0o600 });
  await chmod(`${paths.key}.new`, 0o600);
  await writeFile(`${paths.cert}.new`, pair.certPem, { mode: 0o644 });
  await rename(`${paths.key}.new`, paths.key);
  await rename(`${paths.cert}.new`, paths.cert);
}

/** The first of `names` (host names or addresses, IPv6 maybe in brackets) the certificate does not name. */
export function unnamed(certificate: X509Certificate, names: string[]): string | undefined {
  return names.find((name) => {
    const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
    return (isIP(bare) ? certificate.checkIP(bare) : certificate.checkHost(bare)) === undefined;
  });
}
