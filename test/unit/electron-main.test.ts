// Electron's security checklist, rule by rule, against electron/main.ts itself. No Electron
// binary can be installed here, so the 'electron' module is replaced by a recorder of what main
// asks of it (node:test module mocks); the rules checked are main's own decisions.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, mock, test } from 'node:test';
import { requestChannelNames } from '../../shared/channel-names.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { Engine } from '../../electron/engine/engine.ts';

type Handler = (...args: unknown[]) => unknown;
const recorded = {
  windows: [] as { options: { webPreferences: Record<string, unknown> }; events: Map<string, Handler>; openHandler: Handler | null }[],
  ipc: new Map<string, Handler>(),
  permissionHandler: null as Handler | null,
  appEvents: new Map<string, Handler>(),
};

class FakeWindow {
  readonly webContents;
  constructor(options: { webPreferences: Record<string, unknown> }) {
    const entry = { options, events: new Map<string, Handler>(), openHandler: null as Handler | null };
    recorded.windows.push(entry);
    this.webContents = {
      on: (event: string, handler: Handler) => void entry.events.set(event, handler),
      setWindowOpenHandler: (handler: Handler) => void (entry.openHandler = handler),
      send: () => undefined,
    };
  }
  on(): void {}
  isDestroyed(): boolean {
    return false;
  }
  loadFile(): Promise<void> {
    return Promise.resolve();
  }
}

const dir = await tempDir();
const home = join(dir, 'home');
{
  // A home with one backup, so the app does not build its demo lab.
  const engine = await Engine.open({ home, workerThreads: 2 });
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 2);
  await makeVmFolder(source, 'electron-vm', join(dir, 'disk.raw'), 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.startBackup(source, 'test'))).state, 'succeeded');
  await engine.close();
}
process.env.LIFEBOAT_HOME = home;

mock.module('electron', {
  namedExports: {
    app: { whenReady: () => Promise.resolve(), getPath: () => home, on: (event: string, handler: Handler) => void recorded.appEvents.set(event, handler), quit: () => undefined, exit: () => undefined },
    BrowserWindow: FakeWindow,
    ipcMain: { handle: (channel: string, handler: Handler) => void recorded.ipc.set(channel, handler) },
    safeStorage: { isEncryptionAvailable: () => false },
    session: { defaultSession: { setPermissionRequestHandler: (handler: Handler) => void (recorded.permissionHandler = handler) } },
  },
});
await import('../../electron/main.ts');
const deadline = Date.now() + 30_000;
while (recorded.windows.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
after(async () => {
  recorded.appEvents.get('will-quit')?.({ preventDefault: () => undefined });
  await new Promise((resolve) => setTimeout(resolve, 200));
});

const trustedUrl = pathToFileURL(join(import.meta.dirname, '..', '..', 'renderer', 'index.html')).href;
const invoke = (channel: string, url: string, payload: unknown) => (recorded.ipc.get(channel) as Handler)({ senderFrame: { url } }, payload) as Promise<{ ok: boolean; error?: { code: string }; payload?: unknown }>;

test('the window is context-isolated and sandboxed, with no Node in the page', () => {
  const prefs = recorded.windows[0]?.options.webPreferences;
  assert.ok(prefs);
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.webSecurity, true);
  assert.match(String(prefs.preload), /preload\.cjs$/);
});

test('navigation and new windows are refused', () => {
  const window = recorded.windows[0];
  let prevented = false;
  window?.events.get('will-navigate')?.({ preventDefault: () => void (prevented = true) }, 'https://example.invalid/');
  assert.equal(prevented, true);
  assert.deepEqual(window?.openHandler?.({ url: 'https://example.invalid/' }), { action: 'deny' });
});

test('permission requests are denied', () => {
  let granted: unknown = 'unanswered';
  recorded.permissionHandler?.({}, 'media', (answer: unknown) => void (granted = answer));
  assert.equal(granted, false);
});

test('every channel is handled, a foreign frame is refused, and payloads are validated', async () => {
  assert.deepEqual([...recorded.ipc.keys()].sort(), [...requestChannelNames].sort());
  assert.equal((await invoke('vms.list', 'https://example.invalid/', {})).error?.code, 'unauthorized');
  assert.equal((await invoke('points.list', trustedUrl, { vm: 42 })).error?.code, 'bad-request');
  const vms = await invoke('vms.list', trustedUrl, {});
  assert.equal(vms.ok, true);
  assert.equal((vms.payload as { name: string }[])[0]?.name, 'electron-vm');
});

test('the page has a strict content security policy and no remote content', async () => {
  const html = await readFile(join(import.meta.dirname, '..', '..', 'renderer', 'index.html'), 'utf8');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self';/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from the network');
});
