// The console over TLS, as an operator meets it: `lifeboat serve --tls` (forced on loopback, as
// beyond loopback it is the only way) makes its certificate on first start and prints its
// fingerprint; `openssl s_client` sees that certificate; Chromium, trusting it by its key only,
// loads the console over HTTPS and talks to the engine over WSS, and shows why it was signed
// out when the operator revokes the session or it idles out. The operator's own certificate is
// served as given, and a console that would go beyond loopback without TLS is refused.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { Browser } from 'playwright';
import { launchChromium } from '../helpers/console-browser.ts';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import { homeCertificatePaths } from '../../electron/rpc/tls/console-certificate.ts';
import { openEngine, tempDir } from '../helpers/env.ts';
import { cli, rawExchange, startServe } from '../helpers/serve-process.ts';

const run = promisify(execFile);
const dir = await tempDir();
const home = join(dir, 'home');

const browser: Browser = await launchChromium();
after(() => browser.close());

/** The certificate a TLS server presents, as `openssl s_client` receives it (PEM). */
async function presented(port: number, extra: string[] = []): Promise<{ pem: string; transcript: string }> {
  const transcript = await new Promise<string>((resolve, reject) => {
    const client = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-showcerts', ...extra], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let text = '';
    client.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    client.on('error', reject);
    client.on('exit', () => resolve(text));
    client.stdin.end();
  });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(transcript)?.[0] ?? '';
  return { pem, transcript };
}

async function sha256Of(pem: string): Promise<string> {
  const file = join(dir, `presented-${Date.now()}.pem`);
  await writeFile(file, pem);
  const { stdout } = await run('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256']);
  return stdout.trim().split('=')[1] ?? '';
}

async function lifeboat(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    return { code: 0, ...(await run(process.execPath, [cli, ...args])) };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('serve --tls: the printed fingerprint is the certificate openssl s_client receives, and it is kept across starts', async () => {
  const serve = await startServe(home, '--tls');
  const printed = serve.printed.certificate;
  assert.ok(printed);
  assert.equal(printed.source, 'self-signed');
  assert.equal(printed.new, true);
  assert.match(serve.origin, /^https:\/\/127\.0\.0\.1:\d+$/);
  const { pem, transcript } = await presented(serve.port);
  assert.equal(await sha256Of(pem), printed.sha256);
  assert.match(transcript, /Verify return code: 18 \(self-signed certificate\)/, 'not trusted until the operator says so');
  const trusted = await presented(serve.port, [
    '-CAfile',
    homeCertificatePaths(home).cert,
    '-verify_ip',
    '127.0.0.1',
    '-verify_return_error',
  ]);
  assert.match(trusted.transcript, /Verify return code: 0 \(ok\)/, 'trusted, it verifies for the address served');
  assert.match(trusted.transcript, /New, TLSv1\.3, Cipher is/);

  // Plain HTTP on the TLS port gets no page.
  const plain = await rawExchange(serve.port, Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${serve.port}\r\n\r\n`));
  assert.doesNotMatch(plain.toString('latin1'), /<!doctype|<html/i);
  // Arbitrary bytes, and TLS records with arbitrary contents, never stop the engine.
  const record = fc
    .tuple(fc.constantFrom(0x14, 0x15, 0x16, 0x17), fc.uint8Array({ maxLength: 300 }))
    .map(([type, body]) => Buffer.from([type, 0x03, 0x01, body.length >> 8, body.length & 0xff, ...body]));
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 1000 }).map((bytes) => Buffer.from(bytes)),
        record,
      ),
      async (bytes) => {
        await rawExchange(serve.port, bytes);
        assert.equal(serve.child.exitCode, null);
      },
    ),
    { numRuns: 150 },
  );
  assert.equal(await sha256Of((await presented(serve.port)).pem), printed.sha256, 'and it still serves');
  await serve.stop();

  const again = await startServe(home, '--tls');
  assert.equal(again.printed.certificate?.sha256, printed.sha256);
  assert.equal(again.printed.certificate?.new, false);
  await again.stop();
});

test('Chromium trusting the key loads the console over HTTPS, talks over WSS, and shows why it was signed out', async () => {
  const serve = await startServe(home, '--tls');
  const spki = serve.printed.certificate?.spkiSha256 ?? '';
  const trusting = await launchChromium({ args: [`--ignore-certificate-errors-spki-list=${spki}`] });
  try {
    const context = await trusting.newContext({ ignoreHTTPSErrors: false });
    const page = await context.newPage();
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(serve.printed.url);
    await page.getByRole('heading', { name: 'Lifeboat', level: 1 }).waitFor(); // rendered once connected
    assert.deepEqual(sockets, [`wss://127.0.0.1:${serve.port}/rpc`]);
    assert.equal(await page.evaluate(() => location.protocol), 'https:');
    assert.deepEqual(errors, []);

    const revoked = await lifeboat('--home', home, 'sessions', 'revoke', '--all');
    assert.equal(revoked.code, 0, revoked.stderr);
    await page.getByRole('alert').filter({ hasText: 'Signed out: session revoked by an operator' }).waitFor();
    await page.reload();
    await page.getByRole('alert').filter({ hasText: 'open the console with the URL' }).waitFor();
  } finally {
    await trusting.close();
    await serve.stop();
  }

  // Without the operator's trust, Chromium refuses the certificate: it is real TLS.
  const untrusted = await startServe(home, '--tls');
  const page = await browser.newPage();
  await assert.rejects(page.goto(untrusted.printed.url), /ERR_CERT_AUTHORITY_INVALID/);
  await page.close();
  await untrusted.stop();
});

test('an idle console session is signed out and the page says so', async () => {
  const serve = await startServe(home, '--tls', '--session-idle', '2s');
  const trusting = await launchChromium({ args: [`--ignore-certificate-errors-spki-list=${serve.printed.certificate?.spkiSha256 ?? ''}`] });
  try {
    const page = await trusting.newPage();
    await page.goto(serve.printed.url);
    await page.getByRole('heading', { name: 'Lifeboat', level: 1 }).waitFor(); // rendered once connected
    await page.getByRole('alert').filter({ hasText: 'Signed out: session expired' }).waitFor({ timeout: 60_000 });
  } finally {
    await trusting.close();
    await serve.stop();
  }
});

test("serve --tls-cert/--tls-key serves the operator's certificate; bad ones and remote plain HTTP are refused before anything starts", async () => {
  const cert = join(dir, 'operator-cert.pem');
  const key = join(dir, 'operator-key.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
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
    'subjectAltName=IP:127.0.0.1',
  ]);
  const operatorHome = join(dir, 'operator-home');
  const serve = await startServe(operatorHome, '--tls-cert', cert, '--tls-key', key);
  assert.equal(serve.printed.certificate?.source, 'operator');
  assert.match(serve.origin, /^https:/);
  const { pem } = await presented(serve.port);
  assert.equal(pem, (await readFile(cert, 'utf8')).replace(/\r\n/g, '\n'));
  assert.equal(await sha256Of(pem), serve.printed.certificate?.sha256);
  await assert.rejects(access(homeCertificatePaths(operatorHome).cert), 'the engine makes no certificate of its own');
  await serve.stop();

  const otherKey = join(dir, 'other-key.pem');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', otherKey]);
  const untouched = join(dir, 'untouched-home');
  const refusals: [string[], RegExp][] = [
    [['--tls-cert', cert, '--tls-key', otherKey], /^lifeboat: --tls-key .*other-key\.pem is not the key of the certificate in/],
    [['--tls-cert', cert], /^lifeboat: --tls-cert and --tls-key go together$/],
    [['--tls-cert', key, '--tls-key', key], /^lifeboat: --tls-cert .* is not a PEM X\.509 certificate$/],
    [['--host', '0.0.0.0'], /^lifeboat: refusing to serve the console on 0\.0\.0\.0: pass --allow-remote/],
    [['--host', '192.0.2.10', '--tls'], /^lifeboat: refusing to serve the console on 192\.0\.2\.10: pass --allow-remote/],
    [['--session-idle', '0m'], /^lifeboat: --session-idle takes a duration such as 90s, 30m or 12h$/],
  ];
  for (const [args, message] of refusals) {
    const refused = await lifeboat('--home', untouched, 'serve', '--port', '0', ...args);
    assert.equal(refused.code, 2, args.join(' '));
    assert.match(refused.stderr.trim(), message);
    assert.equal(refused.stderr.trim().split('\n').length, 1);
    await assert.rejects(access(untouched), `nothing is made in the home for ${args.join(' ')}`);
  }

  // Beyond loopback without TLS, the server itself refuses too (whatever its caller decided).
  const engine = await openEngine(join(dir, 'engine-home'));
  const consoleDir = join(dir, 'console');
  await mkdir(consoleDir);
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html>');
  await assert.rejects(
    startConsoleServer(engine, { host: '0.0.0.0', port: 0, rendererDir: consoleDir, allowRemote: true, tls: null }),
    /refusing to serve the console on 0\.0\.0\.0 over plain HTTP/,
  );
  await assert.rejects(
    startConsoleServer(engine, { host: '192.0.2.10', port: 0, rendererDir: consoleDir, allowRemote: true }),
    /over plain HTTP/,
  );
});
