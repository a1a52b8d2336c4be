// Console session keys end: idle too long, at their absolute lifetime, or revoked by an operator
// through the CLI; the socket under an ended key is closed saying why, and the key stays refused.
// The engine's clock is injected, so nobody waits 30 minutes.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { osCaller } from '../../electron/auth/peer.ts';
import { callContext } from '../../electron/rpc/dispatch.ts';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import { openEngineWith, tempDir } from '../helpers/env.ts';
import { ask, cli, hello, openPeer, type Peer } from '../helpers/serve-process.ts';

const run = promisify(execFile);
const MINUTE = 60_000;
const dir = await tempDir();
const home = join(dir, 'home');
let clock = Date.parse('2026-12-02T08:00:00Z');
const engine = await openEngineWith({
  home,
  workerThreads: 1,
  now: () => clock,
  sessionLimits: { idleMs: 30 * MINUTE, absoluteMs: 12 * 60 * MINUTE },
});
const consoleDir = join(dir, 'console');
await mkdir(consoleDir);
await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: consoleDir });
after(() => server.close());

/** A signed-in peer and its session key. */
async function signIn(): Promise<{ peer: Peer; key: string }> {
  const peer = await openPeer(server.origin);
  const key = await hello(peer, server.mintToken());
  assert.ok(key);
  return { peer, key };
}

async function signedOutWith(peer: Peer): Promise<{ code: number; reason: string; message: unknown }> {
  const { code, reason } = await peer.closed;
  const fatal = peer.frames.find((frame) => (frame as { type: string }).type === 'fatal') as
    { error: { code: string; message: string } } | undefined;
  assert.equal(fatal?.error.code, 'unauthorized');
  return { code, reason, message: fatal?.error.message };
}

async function lifeboat(...args: string[]): Promise<{ stdout: string; code: number; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, '--home', home, ...args]);
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number };
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

test('an idle session is signed out at its next frame, and its key is then refused as expired', async () => {
  const { peer, key } = await signIn();
  clock += 29 * MINUTE;
  assert.equal((await ask(peer, 1, 'auth.whoami'))?.ok, true, 'used within the idle limit');
  clock += 30 * MINUTE;
  peer.socket.send(JSON.stringify({ type: 'request', id: 2, channel: 'auth.whoami', payload: {} }));
  assert.deepEqual(await signedOutWith(peer), {
    code: 4401,
    reason: 'session expired',
    message: 'signed out: session expired; open a new console URL from `lifeboat serve`',
  });
  assert.equal(
    peer.frames.some((frame) => (frame as { id?: number }).id === 2),
    false,
    'the request of an expired session is not run',
  );
  const again = await openPeer(server.origin);
  assert.equal(await hello(again, key), null);
  assert.equal((await signedOutWith(again)).reason, 'session expired', 'a tab coming back with it hears why');
});

test('a session in use still ends at its absolute lifetime', async () => {
  const { peer } = await signIn();
  let id = 1;
  // Used every 20 minutes: never idle, but 12 hours is the end.
  for (let elapsed = 0; elapsed + 20 * MINUTE < 12 * 60 * MINUTE; elapsed += 20 * MINUTE) {
    clock += 20 * MINUTE;
    assert.equal((await ask(peer, id++, 'auth.whoami'))?.ok, true);
  }
  clock += 20 * MINUTE;
  peer.socket.send(JSON.stringify({ type: 'request', id: id++, channel: 'auth.whoami', payload: {} }));
  assert.equal((await signedOutWith(peer)).reason, 'session expired');
});

test('the sweep closes an idle session that sends nothing', async () => {
  const { peer } = await signIn();
  const other = await signIn();
  clock += 20 * MINUTE;
  assert.equal((await ask(other.peer, 1, 'auth.whoami'))?.ok, true);
  clock += 11 * MINUTE;
  assert.equal(engine.sessions.sweep(), 1, 'only the idle one ends');
  assert.equal((await signedOutWith(peer)).code, 4401);
  assert.equal((await ask(other.peer, 2, 'auth.whoami'))?.ok, true, 'the one in use goes on');
  other.peer.socket.close();
});

test('`lifeboat sessions` lists keys of the running engine and revokes one or all; their sockets close at once', async () => {
  engine.sessions.revokeAll();
  const first = await signIn();
  clock += 1000; // listed oldest first
  const second = await signIn();
  const listed = JSON.parse((await lifeboat('sessions', '--json')).stdout) as { id: string; identity: string | null; expiresAt: string }[];
  assert.equal(listed.length, 2);
  assert.equal(listed[0]?.identity, null);
  assert.equal(listed[1]?.expiresAt, new Date(clock + 30 * MINUTE).toISOString());
  const human = (await lifeboat('sessions')).stdout;
  assert.match(human, /ID\s+WHO\s+STARTED/);
  assert.doesNotMatch(human, new RegExp(first.key), 'the key itself is never shown');

  const revoked = await lifeboat('sessions', 'revoke', listed[0]?.id ?? '');
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /session [0-9a-f]{12} revoked/);
  const openOne = second;
  assert.deepEqual(await signedOutWith(first.peer), {
    code: 4401,
    reason: 'session revoked',
    message: 'signed out: session revoked by an operator',
  });
  assert.equal((await ask(openOne.peer, 7, 'auth.whoami'))?.ok, true, 'the other session goes on');

  const all = await lifeboat('sessions', 'revoke', '--all', '--json');
  assert.deepEqual(JSON.parse(all.stdout), { revoked: 1 });
  assert.equal((await signedOutWith(openOne.peer)).reason, 'session revoked');
  const back = await openPeer(server.origin);
  assert.equal(await hello(back, openOne.key), null, 'a revoked key does not come back');

  const unknown = await lifeboat('sessions', 'revoke', 'aaaaaaaaaaaa');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /^lifeboat: no live console session aaaaaaaaaaaa/);
  for (const bad of [
    ['sessions', 'revoke'],
    ['sessions', 'revoke', 'x', '--all'],
    ['sessions', 'revoke', '../../etc'],
    ['sessions', 'drop'],
  ]) {
    const refused = await lifeboat(...bad);
    assert.equal(refused.code, 2, bad.join(' '));
    assert.equal(refused.stderr.trim().split('\n').length, 1, 'one line');
  }
  const audit = await engine.handlers['audit.list']({}, callContext(osCaller()));
  assert.equal(audit.filter((entry) => entry.action === 'sessions.revoke').length, 2);
});

test('a revoked or expired console key also ends the account sign-in made through it, and its events stop', async () => {
  engine.sessions.revokeAll();
  await engine.handlers['accounts.add']({ name: 'rita', role: 'viewer', password: 'rita-console-pw' }, callContext(osCaller()));
  const { peer } = await signIn();
  const login = await ask(peer, 1, 'auth.login', { user: 'rita', password: 'rita-console-pw' });
  const token = (login?.payload as { token: string }).token;
  assert.equal(engine.auth.resume(token).account, 'rita');
  engine.sessions.revokeAll();
  assert.equal((await signedOutWith(peer)).reason, 'session revoked');
  assert.throws(
    () => engine.auth.resume(token),
    { code: 'unauthorized' },
    'a tab given a new console URL is not signed back in with the old token',
  );
});
