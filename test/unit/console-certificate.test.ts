// The console's certificates: the engine's own, DER-encoded here and read back by the openssl
// CLI and by node:crypto (both OpenSSL), for any host names and addresses; and the operator's,
// where damaged or mismatched files are each one clear error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { objectIdentifier, time, unsignedInteger } from '../../electron/x509/der.ts';
import { homeCertificate, homeCertificatePaths, operatorCertificate } from '../../electron/rpc/tls/console-certificate.ts';
import { makeSelfSigned } from '../../electron/rpc/tls/self-signed.ts';
import { tempDir } from '../helpers/env.ts';

const DAY = 86_400_000;
const now = new Date('2026-12-02T06:00:00Z');

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe', ...(input === undefined ? {} : { input }) });
}

test('DER pieces match what OpenSSL writes', () => {
  assert.equal(objectIdentifier('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(objectIdentifier('2.5.29.17').toString('hex'), '0603551d11');
  assert.equal(unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
  assert.equal(unsignedInteger(Buffer.from([0, 0, 1])).toString('hex'), '020101');
  assert.equal(time(new Date('2049-12-31T23:59:59Z')).toString('latin1', 2), '491231235959Z');
  assert.equal(time(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2), '20500101000000Z');
});

test('the self-signed certificate: openssl reads it, verifies it as a TLS server, and sees its names', async () => {
  const dir = await tempDir();
  const made = makeSelfSigned({
    names: ['console.example', '127.0.0.1', '::1', 'fe80::1:2'],
    notBefore: now,
    notAfter: new Date(now.getTime() + 397 * DAY),
  });
  const file = join(dir, 'cert.pem');
  await writeFile(file, made.certPem);
  const text = openssl(['x509', '-in', file, '-noout', '-text']);
  assert.match(text, /Version: 3 \(0x2\)/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /Subject: O = Lifeboat, CN = console.example/);
  assert.match(text, /CA:FALSE/);
  assert.match(text, /TLS Web Server Authentication/);
  assert.match(text, /DNS:console\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FE80:0:0:0:0:0:1:2/);
  assert.match(text, /Not After : Jan {2}3 06:00:00 2028 GMT/);
  const verified = openssl([
    'verify',
    '-x509_strict',
    '-purpose',
    'sslserver',
    '-attime',
    String(now.getTime() / 1000 + 60),
    '-CAfile',
    file,
    file,
  ]);
  assert.equal(verified.trim(), `${file}: OK`);
  assert.equal(openssl(['pkey', '-noout', '-text'], made.keyPem).includes('NIST CURVE: P-256'), true);
});

test('any names (DNS, IPv4, IPv6) and any validity end up in the certificate as given', () => {
  const name = fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6());
  fc.assert(
    fc.property(
      fc.array(name, { minLength: 1, maxLength: 5 }),
      fc.date({ min: new Date('1990-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }),
      fc.integer({ min: 1, max: 4000 }),
      (names, from, days) => {
        const notBefore = new Date(Math.floor(from.getTime() / 1000) * 1000);
        const notAfter = new Date(notBefore.getTime() + days * DAY);
        const certificate = new X509Certificate(makeSelfSigned({ names, notBefore, notAfter }).certPem);
        assert.ok(certificate.verify(certificate.publicKey), 'signed by its own key');
        assert.equal(new Date(certificate.validFrom).getTime(), notBefore.getTime());
        assert.equal(new Date(certificate.validTo).getTime(), notAfter.getTime());
        for (const each of names) {
          if (each.includes(':')) assert.equal(certificate.checkIP(each), each);
          else if (/^\d+\.\d+\.\d+\.\d+$/.test(each)) assert.equal(certificate.checkIP(each), each);
          else assert.equal(certificate.checkHost(each), each);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('the engine keeps its certificate (key 0600) and makes a new one only when it no longer fits', async () => {
  const home = await tempDir();
  const lines: string[] = [];
  const first = await homeCertificate(home, { names: ['127.0.0.1', 'localhost'], required: ['127.0.0.1'], now }, (line) =>
    lines.push(line),
  );
  assert.equal(first.made, true);
  assert.match(first.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  const paths = homeCertificatePaths(home);
  assert.equal((await stat(paths.key)).mode & 0o777, 0o600);
  assert.equal((await stat(paths.folder)).mode & 0o777, 0o700);
  const fingerprint = openssl(['x509', '-in', paths.cert, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1];
  assert.equal(fingerprint, first.fingerprint256);

  const kept = await homeCertificate(home, { names: ['127.0.0.1'], required: ['127.0.0.1'], now: new Date(now.getTime() + 300 * DAY) });
  assert.deepEqual([kept.made, kept.fingerprint256], [false, first.fingerprint256]);
  const nearEnd = await homeCertificate(
    home,
    { names: ['127.0.0.1'], required: ['127.0.0.1'], now: new Date(now.getTime() + 380 * DAY) },
    (line) => lines.push(line),
  );
  assert.equal(nearEnd.made, true);
  const otherHost = await homeCertificate(home, { names: ['127.0.0.9'], required: ['127.0.0.9'], now }, (line) => lines.push(line));
  assert.equal(otherHost.made, true);
  await writeFile(paths.cert, 'damaged');
  const remade = await homeCertificate(home, { names: ['127.0.0.9'], required: ['127.0.0.9'], now }, (line) => lines.push(line));
  assert.equal(remade.made, true);
  assert.deepEqual(
    lines.map((line) => line.replace(/ends on .*/, 'ends on …')),
    [
      "making the console's certificate: there is none yet (or it cannot be read)",
      "making the console's certificate: it ends on …",
      "making the console's certificate: it does not name 127.0.0.9",
      "making the console's certificate: there is none yet (or it cannot be read)",
    ],
  );
});

test("the operator's certificate: a real openssl pair is taken; damaged, mismatched, expired or missing files are one clear error", async () => {
  const dir = await tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  openssl([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    '/CN=console.test',
    '-addext',
    'subjectAltName=DNS:console.test,IP:127.0.0.1',
  ]);
  const taken = await operatorCertificate(cert, key, new Date());
  assert.equal(taken.source, 'operator');
  assert.equal(taken.fingerprint256, openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']).trim().split('=')[1]);

  const otherKey = join(dir, 'other-key.pem');
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey]);
  const encryptedKey = join(dir, 'encrypted-key.pem');
  openssl(['pkey', '-in', key, '-aes256', '-passout', 'pass:secret', '-out', encryptedKey]);
  const refusal = async (certFile: string, keyFile: string, at: Date, pattern: RegExp): Promise<void> => {
    await assert.rejects(
      operatorCertificate(certFile, keyFile, at),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request' && pattern.test(error.message),
    );
  };
  await refusal(cert, otherKey, new Date(), /--tls-key .* is not the key of the certificate/);
  await refusal(cert, encryptedKey, new Date(), /--tls-key .* is not an unencrypted PEM private key/);
  await refusal(key, key, new Date(), /--tls-cert .* is not a PEM X\.509 certificate/);
  await refusal(join(dir, 'missing.pem'), key, new Date(), /--tls-cert .*missing\.pem cannot be read \(ENOENT\)/);
  await refusal(cert, dir, new Date(), /--tls-key .* cannot be read \(EISDIR\)/);
  await refusal(cert, key, new Date(Date.now() + 60 * DAY), /expired on/);
  await refusal(cert, key, new Date(Date.now() - 60 * DAY), /is not valid before/);

  // Damaged copies of the real files: taken whole or refused as bad-request, nothing else.
  const [certPem, keyPem] = [await readFile(cert, 'utf8'), await readFile(key, 'utf8')];
  const damaged = (text: string) =>
    fc
      .tuple(fc.nat({ max: text.length }), fc.nat({ max: 64 }), fc.string({ maxLength: 16 }))
      .map(([at, cut, insert]) => text.slice(0, at) + insert + text.slice(at + cut));
  const damagedCert = join(dir, 'damaged-cert.pem');
  const damagedKey = join(dir, 'damaged-key.pem');
  await fc.assert(
    fc.asyncProperty(damaged(certPem), damaged(keyPem), async (certText, keyText) => {
      await writeFile(damagedCert, certText);
      await writeFile(damagedKey, keyText);
      try {
        await operatorCertificate(damagedCert, damagedKey, new Date());
      } catch (error) {
        assert.ok(error instanceof LifeboatError && error.code === 'bad-request', String(error));
      }
    }),
    { numRuns: 150 },
  );
});
