// The browser console's transport: after the one-time token, the WebSocket is nobody until it
// signs in with an account. Before that every engine channel is refused and no engine event
// reaches it; after a reload the tab resumes its sign-in with the token it kept.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import { openEngine, tempDir } from '../helpers/env.ts';

type Frame = {
  type: string;
  id?: number;
  ok?: boolean;
  payload?: unknown;
  error?: { code: string; message: string };
  session?: string;
  event?: string;
};

/** A WebSocket client that keeps every frame and answers requests in order. */
async function open(
  origin: string,
  secret: string,
): Promise<{ session: string; call(channel: string, payload: unknown): Promise<Frame>; readonly events: Frame[]; close(): void }> {
  const socket = new WebSocket(`${origin.replace('http', 'ws')}/rpc`, { headers: { origin } });
  const frames: Frame[] = [];
  const waiting = new Map<number, (frame: Frame) => void>();
  let welcome: (session: string) => void = () => undefined;
  const welcomed = new Promise<string>((resolve) => (welcome = resolve));
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as Frame;
    frames.push(frame);
    if (frame.type === 'welcome') welcome(frame.session as string);
    if (frame.type === 'response') waiting.get(frame.id as number)?.(frame);
  });
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'hello', token: secret }));
  const session = await welcomed;
  let next = 1;
  return {
    session,
    call: (channel, payload) =>
      new Promise((resolve) => {
        const id = next++;
        waiting.set(id, resolve);
        socket.send(JSON.stringify({ type: 'request', id, channel, payload }));
      }),
    get events() {
      return frames.filter((frame) => frame.type === 'event');
    },
    close: () => socket.close(),
  };
}

test('the browser console must sign in: nothing before, the account role after, resumed after a reload', async () => {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  await dispatch(engine, new Peer(osCaller()), 'accounts.add', { name: 'vera', role: 'viewer', password: 'vera-console-pw' });
  const consoleDir = join(dir, 'console');
  await mkdir(consoleDir);
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>console</title>');
  const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: consoleDir });
  try {
    const tab = await open(server.origin, server.mintToken());
    const before = await tab.call('vms.list', {});
    assert.deepEqual([before.ok, before.error?.code], [false, 'unauthorized']);
    assert.match(before.error?.message ?? '', /sign in first/);
    assert.equal((await tab.call('auth.whoami', {})).payload, null);
    engine.events.emit('prompt.updated', { id: 'x' } as never);
    assert.equal((await tab.call('auth.login', { user: 'vera', password: 'wrong-password' })).error?.code, 'unauthorized');

    const login = await tab.call('auth.login', { user: 'vera', password: 'vera-console-pw' });
    assert.equal(login.ok, true);
    const { token } = login.payload as { token: string };
    assert.equal((await tab.call('vms.list', {})).ok, true);
    const restore = await tab.call('restore.entireVm', { vm: 'x', point: 'latest', target: { kind: 'local', path: '/tmp/x' } });
    assert.match(restore.error?.message ?? '', /local:vera has the viewer role; restore.entireVm needs the operator role/);
    engine.events.emit('prompt.updated', { id: 'y' } as never);
    await tab.call('auth.whoami', {});
    assert.deepEqual(
      tab.events.map((frame) => (frame.payload as { id: string }).id),
      ['y'],
      'only events after the sign-in reach the tab',
    );
    tab.close();

    // A reload: the tab's session key reconnects, and its sign-in token resumes.
    const reloaded = await open(server.origin, tab.session);
    assert.equal((await reloaded.call('vms.list', {})).error?.code, 'unauthorized', 'a new connection starts as nobody');
    assert.equal((await reloaded.call('auth.resume', { token })).ok, true);
    assert.equal((await reloaded.call('vms.list', {})).ok, true);
    assert.equal(((await reloaded.call('auth.logout', {})).payload as { signedOut: boolean }).signedOut, true);
    assert.equal((await reloaded.call('vms.list', {})).error?.code, 'unauthorized');
    reloaded.close();
  } finally {
    await server.close();
  }
});
