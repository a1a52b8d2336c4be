// `lifeboat serve --movers HOST:PORT`: the mover port opens beside the console, its address is in
// the --json line, and it serves the listener certificate followed by the engine's mover CA (what
// a joining mover pins). A malformed address is refused before the engine opens.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { tempDir } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

test('serve --movers opens the mover port and prints its address', async () => {
  const home = join(await tempDir(), 'home');
  const server = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--movers', '127.0.0.1:0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`serve printed nothing in 30 s: ${stderr}`)), 30_000);
      server.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(text.split('\n')[0] as string);
        }
      });
      server.once('exit', () => reject(new Error(`serve exited: ${stderr}`)));
    });
    const printed = JSON.parse(line) as { movers: string };
    const match = /^127\.0\.0\.1:(\d+)$/.exec(printed.movers);
    assert.ok(match, printed.movers);
    const chain = await new Promise<DetailedPeerCertificate>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: Number(match[1]), rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate(true));
        socket.destroy();
      });
      socket.once('error', reject);
    });
    const leaf = new X509Certificate(chain.raw);
    const authority = new X509Certificate(chain.issuerCertificate.raw);
    assert.notEqual(leaf.fingerprint256, authority.fingerprint256, 'the CA follows the listener certificate');
    assert.ok(leaf.verify(authority.publicKey), "the listener certificate is the mover CA's");
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
});

test('serve --movers with a malformed address is refused before the engine opens', async () => {
  const home = join(await tempDir(), 'home');
  const run = spawnSync(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--movers', 'nowhere'], { encoding: 'utf8' });
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /--movers takes HOST:PORT/);
  assert.equal(existsSync(home), false, 'no home was made');
});
