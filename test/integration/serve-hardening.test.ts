// `lifeboat serve`, rule by rule: loopback unless told otherwise, a strict CSP on every page,
// nothing outside the console's folder, and frames larger than the limit refused.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import { openEngine, tempDir } from '../helpers/env.ts';

test('serve binds to loopback only, sends a CSP, serves nothing outside the console, caps frames', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const consoleDir = join(dir, 'console');
  await mkdir(consoleDir);
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(join(dir, 'outside.txt'), 'not for the browser');
  await assert.rejects(
    startConsoleServer(engine, { host: '0.0.0.0', port: 0, rendererDir: consoleDir }),
    /refusing to serve the console on 0\.0\.0\.0/,
  );
  const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: consoleDir });
  try {
    const page = await fetch(`${server.origin}/`);
    assert.equal(page.status, 200);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    // 'self' covers the console's own WebSocket (ws: or wss:, CSP 3); a host source would break on
    // an IPv6 address, which CSP cannot name.
    assert.match(csp, /connect-src 'self';/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    for (const path of ['/../outside.txt', '/%2e%2e/outside.txt', '/..%2foutside.txt', '/etc/passwd']) {
      assert.equal((await fetch(`${server.origin}${path}`)).status, 404, path);
    }
    const closed = await new Promise<number>((resolve) => {
      const socket = new WebSocket(`${server.origin.replace('http', 'ws')}/rpc`, { headers: { origin: server.origin } });
      socket.on('open', () => socket.send('x'.repeat(2 * 1024 * 1024)));
      socket.on('close', (code) => resolve(code));
      socket.on('error', () => undefined);
    });
    assert.equal(closed, 1009, 'a frame over 1 MiB closes the connection (message too big)');
  } finally {
    await server.close();
  }
});
