// The movers' small CA: its certificates are read back and verified by the openssl CLI, and a
// real mutual-TLS handshake on loopback (node:tls) accepts a client certificate it issued and
// refuses one from another CA. The mover's public key is outside input: damaged keys are refused
// with one clear error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, createServer, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import {
  commonNameOf,
  fingerprintSha256,
  issueCertificate,
  issuedBy,
  makeAuthority,
  p256PublicKey,
  type Authority,
} from '../../electron/x509/authority.ts';
import { serialHex } from '../../electron/x509/certificate.ts';
import { tempDir } from '../helpers/env.ts';

const DAY = 86_400_000;
const now = new Date();
const validity = { notBefore: new Date(now.getTime() - DAY), notAfter: new Date(now.getTime() + 30 * DAY) };

function openssl(args: string[]): string {
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: 'pipe' });
}

function keyPair(): { publicKey: KeyObject; keyPem: string; publicKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function issue(authority: Authority, commonName: string, use: Parameters<typeof issueCertificate>[1]['use']) {
  const pair = keyPair();
  return { ...pair, ...issueCertificate(authority, { commonName, publicKey: pair.publicKey, use, ...validity }) };
}

test('openssl verifies the CA and what it issues, and reads their uses', async () => {
  const dir = await tempDir();
  const authority = makeAuthority('Lifeboat movers CA test', {
    notBefore: validity.notBefore,
    notAfter: new Date(now.getTime() + 3650 * DAY),
  });
  const client = issue(authority, 'mover-a', { kind: 'client' });
  const server = issue(authority, 'engine', { kind: 'server', names: ['localhost', '127.0.0.1', '::1'] });
  const files = { ca: join(dir, 'ca.pem'), client: join(dir, 'client.pem'), server: join(dir, 'server.pem') };
  await writeFile(files.ca, authority.certPem);
  await writeFile(files.client, client.certPem);
  await writeFile(files.server, server.certPem);

  assert.match(openssl(['verify', '-CAfile', files.ca, '-purpose', 'sslclient', files.client]), /OK/);
  assert.match(openssl(['verify', '-CAfile', files.ca, '-purpose', 'sslserver', files.server]), /OK/);
  // Each is for its own use only.
  assert.throws(() => openssl(['verify', '-CAfile', files.ca, '-purpose', 'sslserver', files.client]));
  assert.throws(() => openssl(['verify', '-CAfile', files.ca, '-purpose', 'sslclient', files.server]));

  const caText = openssl(['x509', '-in', files.ca, '-noout', '-text']);
  assert.match(caText, /CA:TRUE, pathlen:0/);
  assert.match(caText, /Certificate Sign, CRL Sign/);
  assert.match(caText, /ASN1 OID: prime256v1/);
  assert.match(caText, /ecdsa-with-SHA256/);
  const clientText = openssl(['x509', '-in', files.client, '-noout', '-text']);
  assert.match(clientText, /Subject: O ?= ?Lifeboat, CN ?= ?mover-a/);
  assert.match(clientText, /Issuer: O ?= ?Lifeboat, CN ?= ?Lifeboat movers CA test/);
  assert.match(clientText, /CA:FALSE/);
  assert.match(clientText, /TLS Web Client Authentication/);
  assert.match(clientText, /X509v3 Authority Key Identifier/);
  const serverText = openssl(['x509', '-in', files.server, '-noout', '-text']);
  assert.match(serverText, /TLS Web Server Authentication/);
  assert.match(serverText, /DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);

  // node:crypto sees the same: issuer, serial (16 random bytes), fingerprint of the DER.
  const parsed = new X509Certificate(client.certPem);
  assert.equal(commonNameOf(parsed.subject), 'mover-a');
  assert.equal(serialHex(parsed.serialNumber), client.serial);
  assert.match(client.serial, /^[0-9a-f]{31,32}$/);
  assert.ok(issuedBy(parsed, new X509Certificate(authority.certPem), now));
  assert.ok(!issuedBy(parsed, new X509Certificate(authority.certPem), new Date(now.getTime() + 31 * DAY)), 'not after its end');
  const sha = openssl(['x509', '-in', files.ca, '-noout', '-fingerprint', '-sha256']);
  assert.equal(sha.split('=')[1]?.trim().replaceAll(':', '').toLowerCase(), fingerprintSha256(authority.certPem));
  assert.notEqual(issue(authority, 'mover-a', { kind: 'client' }).serial, client.serial, 'serials are random');
});

/** A TLS server on loopback that asks for a client certificate from `authority` and reports
 * whether each client was authorized. */
type TestServer = { port: number; nextRefusal(): Promise<string>; close(): Promise<void> };
async function mutualTlsServer(authority: Authority): Promise<TestServer> {
  const waiting: ((code: string) => void)[] = [];
  const server = issue(authority, 'engine', { kind: 'server', names: ['localhost', '127.0.0.1'] });
  const listener = createServer(
    { key: server.keyPem, cert: server.certPem + authority.certPem, ca: authority.certPem, requestCert: true, rejectUnauthorized: true },
    (socket: TLSSocket) => socket.end(`hello ${commonNameOf(socket.getPeerX509Certificate()?.subject ?? '') ?? '?'}`),
  );
  listener.on('tlsClientError', (error: NodeJS.ErrnoException) => waiting.shift()?.(error.code ?? error.message));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    port: (listener.address() as AddressInfo).port,
    // The server's own refusal of the next handshake, waited for at most 10 s.
    nextRefusal: () =>
      new Promise<string>((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error('the server did not refuse the handshake within 10 s')), 10_000);
        waiting.push((code) => {
          clearTimeout(deadline);
          resolve(code);
        });
      }),
    close: () => new Promise<void>((resolve) => listener.close(() => resolve())),
  };
}

/** What the server said, or "refused: …" when the client saw the handshake fail (under TLS 1.3 it
 * may only see the connection end: the server's refusals are counted on its side). */
function dial(port: number, authority: Authority, client: { keyPem: string; certPem: string } | null): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: authority.certPem,
      servername: 'localhost',
      ...(client ? { key: client.keyPem, cert: client.certPem } : {}),
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`refused: ${error.code ?? error.message}`));
  });
}

test('a real mTLS handshake on loopback accepts a client certificate the CA issued and refuses a foreign one', async () => {
  const authority = makeAuthority('Lifeboat movers CA ours', validity);
  const foreign = makeAuthority('Lifeboat movers CA ours', validity); // the same name, another key
  const server = await mutualTlsServer(authority);
  try {
    assert.equal(await dial(server.port, authority, issue(authority, 'mover-a', { kind: 'client' })), 'hello mover-a');
    const refused = async (client: { keyPem: string; certPem: string } | null): Promise<void> => {
      const [said, refusal] = await Promise.all([dial(server.port, authority, client), server.nextRefusal()]);
      assert.doesNotMatch(said, /hello/);
      assert.ok(refusal.length > 0);
    };
    await refused(issue(foreign, 'mover-a', { kind: 'client' }));
    await refused(null); // no certificate at all
    await refused(issue(authority, 'engine', { kind: 'server', names: ['localhost'] })); // our CA's, but not a client's
  } finally {
    await server.close();
  }
});

test('a mover public key must be an ECDSA P-256 SPKI PEM; damaged ones are one bad-request', () => {
  const real = keyPair().publicKeyPem;
  assert.equal(p256PublicKey(real).asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const refused = (pem: string) =>
    assert.throws(
      () => p256PublicKey(pem),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request',
    );
  refused(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }).toString());
  refused(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString());
  refused(keyPair().keyPem); // a private key is not what is asked for
  refused('');
  fc.assert(
    fc.property(fc.nat({ max: real.length - 1 }), fc.integer({ min: 0, max: 0xffff }), fc.boolean(), (at, code, cut) => {
      const damaged = cut ? real.slice(0, at) : real.slice(0, at) + String.fromCharCode(code) + real.slice(at + 1);
      try {
        const key = p256PublicKey(damaged);
        // A change the PEM reader ignores (whitespace, a line break) leaves the same key.
        assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      } catch (error) {
        assert.ok(error instanceof LifeboatError && error.code === 'bad-request', String(error));
      }
    }),
    { numRuns: 300 },
  );
});

test('nothing the CA issues outlives the CA', () => {
  const caEnd = new Date(Math.floor(now.getTime() / 1000) * 1000 + 10 * DAY);
  const authority = makeAuthority('Lifeboat movers CA short', { notBefore: validity.notBefore, notAfter: caEnd });
  const client = issue(authority, 'mover-a', { kind: 'client' });
  assert.equal(client.notAfter.getTime(), caEnd.getTime());
  assert.equal(new Date(new X509Certificate(client.certPem).validTo).getTime(), caEnd.getTime());
});
