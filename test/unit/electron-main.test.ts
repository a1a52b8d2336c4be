// Electron's security checklist, rule by rule, against electron/main.ts itself. No Electron
// binary can be installed here, so the 'electron' module is replaced by a recorder of what main
// asks of it (node:test module mocks); the rules checked are main's own decisions.
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, mock, test } from 'node:test';
import { requestChannelNames } from '../../shared/generated/channels.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { serveAppFile } from '../../electron/app-protocol.ts';

type Handler = (...args: unknown[]) => unknown;
type Contents = { events: Map<string, Handler>; openHandler: Handler | null };
const recorded = {
  calls: [] as string[],
  windows: [] as {
    options: { webPreferences: Record<string, unknown> };
    contents: Contents;
    loaded: string[];
    state: { minimized: boolean; restored: number; focused: number };
  }[],
  guardedContents: [] as Contents[],
  ipc: new Map<string, Handler>(),
  permissionRequest: null as Handler | null,
  permissionCheck: null as Handler | null,
  schemes: [] as unknown[],
  protocolHandlers: new Map<string, Handler>(),
  appEvents: new Map<string, Handler>(),
  lockGranted: true,
  quits: 0,
};

/** A web contents as main sees it; `web-contents-created` fires for it, as in Electron. */
function fakeContents(): { api: Record<string, unknown>; contents: Contents } {
  const contents: Contents = { events: new Map(), openHandler: null };
  const api = {
    on: (event: string, handler: Handler) => void contents.events.set(event, handler),
    setWindowOpenHandler: (handler: Handler) => void (contents.openHandler = handler),
    send: () => undefined,
  };
  recorded.guardedContents.push(contents);
  recorded.appEvents.get('web-contents-created')?.({}, api);
  return { api, contents };
}

class FakeWindow {
  readonly webContents;
  private readonly entry;
  constructor(options: { webPreferences: Record<string, unknown> }) {
    const { api, contents } = fakeContents();
    this.entry = { options, contents, loaded: [] as string[], state: { minimized: true, restored: 0, focused: 0 } };
    recorded.windows.push(this.entry);
    this.webContents = api;
  }
  on(): void {}
  isDestroyed(): boolean {
    return false;
  }
  isMinimized(): boolean {
    return this.entry.state.minimized;
  }
  restore(): void {
    this.entry.state.minimized = false;
    this.entry.state.restored++;
  }
  focus(): void {
    this.entry.state.focused++;
  }
  loadURL(url: string): Promise<void> {
    this.entry.loaded.push(url);
    return Promise.resolve();
  }
}

const dir = await tempDir();
const home = join(dir, 'home');
{
  // A home with one backup made beforehand (the app itself makes no demo lab).
  const engine = await openServedEngine({ home, workerThreads: 2 });
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 2);
  await makeVmFolder(source, 'electron-vm', join(dir, 'disk.raw'), 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  await engine.close();
}
process.env.LIFEBOAT_HOME = home;

mock.module('electron', {
  namedExports: {
    app: {
      requestSingleInstanceLock: () => (recorded.calls.push('requestSingleInstanceLock'), recorded.lockGranted),
      whenReady: () => (recorded.calls.push('whenReady'), Promise.resolve()),
      getPath: () => home,
      on: (event: string, handler: Handler) => void recorded.appEvents.set(event, handler),
      quit: () => void recorded.quits++,
      exit: () => undefined,
    },
    BrowserWindow: FakeWindow,
    ipcMain: { handle: (channel: string, handler: Handler) => void recorded.ipc.set(channel, handler) },
    safeStorage: { isEncryptionAvailable: () => false, getSelectedStorageBackend: () => 'basic_text' },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (handler: Handler) => void (recorded.permissionRequest = handler),
        setPermissionCheckHandler: (handler: Handler) => void (recorded.permissionCheck = handler),
      },
    },
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) =>
        void (recorded.calls.push('registerSchemesAsPrivileged'), recorded.schemes.push(...schemes)),
      handle: (scheme: string, handler: Handler) => void recorded.protocolHandlers.set(scheme, handler),
    },
  },
});
const mainUrl = new URL('../../electron/main.ts', import.meta.url).href;
await import(mainUrl);
const deadline = Date.now() + 30_000;
while (recorded.windows.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
after(async () => {
  recorded.appEvents.get('will-quit')?.({ preventDefault: () => undefined });
  await new Promise((resolve) => setTimeout(resolve, 200));
});

const appUrl = 'lifeboat://app/index.html';
const invoke = (channel: string, url: string, payload: unknown) =>
  (recorded.ipc.get(channel) as Handler)({ senderFrame: { url } }, payload) as Promise<{
    ok: boolean;
    error?: { code: string };
    payload?: unknown;
  }>;
const serve = (url: string) => (recorded.protocolHandlers.get('lifeboat') as Handler)({ url }) as Promise<Response>;

test('the window is context-isolated and sandboxed, with no Node in the page, and loads the app scheme, not file://', () => {
  const window = recorded.windows[0];
  const prefs = window?.options.webPreferences;
  assert.ok(prefs);
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.webSecurity, true);
  assert.match(String(prefs.preload), /preload\.cjs$/);
  assert.deepEqual(window?.loaded, [appUrl]);
});

test('one instance: the lock is asked before anything starts, and a second start focuses the window', async () => {
  assert.deepEqual(recorded.calls.slice(0, 3), ['registerSchemesAsPrivileged', 'requestSingleInstanceLock', 'whenReady']);
  const state = recorded.windows[0]?.state;
  recorded.appEvents.get('second-instance')?.({}, ['lifeboat'], '/');
  assert.deepEqual(state, { minimized: false, restored: 1, focused: 1 });
  // A second app process does not get the lock: it quits without starting anything.
  const before = {
    windows: recorded.windows.length,
    quits: recorded.quits,
    ready: recorded.calls.filter((call) => call === 'whenReady').length,
  };
  recorded.lockGranted = false;
  await import(`${mainUrl}?second-instance`);
  assert.equal(recorded.quits, before.quits + 1);
  assert.equal(recorded.calls.filter((call) => call === 'whenReady').length, before.ready, 'no engine, no window');
  assert.equal(recorded.windows.length, before.windows);
});

test('every web contents is guarded: no webviews, no new windows, no navigation or redirect out of the app', () => {
  // Another contents appearing later (say, one a page tries to make) is guarded the same way.
  fakeContents();
  assert.ok(recorded.guardedContents.length >= 2);
  for (const contents of recorded.guardedContents) {
    const prevented = (event: string, url?: string): boolean => {
      let stopped = false;
      contents.events.get(event)?.({ preventDefault: () => void (stopped = true) }, url);
      return stopped;
    };
    assert.equal(prevented('will-attach-webview'), true);
    assert.deepEqual(contents.openHandler?.({ url: 'https://example.invalid/' }), { action: 'deny' });
    for (const url of [
      'https://example.invalid/',
      'file:///etc/passwd',
      'lifeboat://evil/index.html',
      'javascript:alert(1)',
      'not a url',
    ]) {
      assert.equal(prevented('will-navigate', url), true, `navigate ${url}`);
      assert.equal(prevented('will-redirect', url), true, `redirect ${url}`);
    }
    assert.equal(prevented('will-navigate', `${appUrl}#/jobs`), false, 'moving inside the app is fine');
  }
});

test('permissions: requests and checks are refused, except notifications for the app itself', () => {
  const request = (permission: string, requestingUrl: string): unknown => {
    let granted: unknown = 'unanswered';
    recorded.permissionRequest?.({}, permission, (answer: unknown) => void (granted = answer), { requestingUrl });
    return granted;
  };
  assert.equal(request('media', appUrl), false);
  assert.equal(request('geolocation', appUrl), false);
  assert.equal(request('notifications', appUrl), true);
  assert.equal(request('notifications', 'https://example.invalid/'), false);
  const check = (permission: string, origin: string) => recorded.permissionCheck?.({}, permission, origin, {});
  assert.equal(check('notifications', 'lifeboat://app'), true);
  for (const permission of ['media', 'clipboard-read', 'hid', 'serial', 'usb', 'fullscreen', 'openExternal'])
    assert.equal(check(permission, 'lifeboat://app'), false, permission);
  assert.equal(check('notifications', 'file://'), false);
  assert.equal(check('notifications', 'https://example.invalid'), false);
});

test('lifeboat:// is a privileged standard scheme serving the renderer folder with its CSP, and nothing outside it', async () => {
  assert.deepEqual(recorded.schemes, [
    { scheme: 'lifeboat', privileges: { standard: true, secure: true, supportFetchAPI: true } },
    { scheme: 'lifeboat', privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
  const index = await serve(appUrl);
  assert.equal(index.status, 200);
  assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
  assert.match(index.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'self';.*frame-ancestors 'none'/);
  assert.equal(await index.text(), await readFile(join(import.meta.dirname, '..', '..', 'renderer', 'index.html'), 'utf8'));
  assert.equal((await serve('lifeboat://app/app.css')).headers.get('content-type'), 'text/css; charset=utf-8');
  for (const escape of [
    'lifeboat://app/..%2F..%2Fpackage.json',
    'lifeboat://app/%2e%2e/%2e%2e/package.json',
    'lifeboat://app/../../package.json',
    'lifeboat://app/..%5C..%5Cpackage.json',
    'lifeboat://app/%2Fetc%2Fpasswd',
    'lifeboat://app//etc/passwd',
    'lifeboat://other/index.html',
    'lifeboat://app/missing.js',
    'lifeboat://app/views',
  ]) {
    const answer = await serve(escape);
    assert.equal(answer.status, 404, escape);
    assert.doesNotMatch(await answer.text(), /"name"|root:/, escape);
  }
  assert.equal((await serve('lifeboat://app/index.html%00.png')).status, 400);
  assert.equal((await serve('lifeboat://app/%E0%A4%A')).status, 400);
});

test('a symlink in the served folder does not lead out of it', async () => {
  const root = join(await tempDir(), 'renderer');
  await mkdir(root);
  await writeFile(join(root, 'index.html'), '<!doctype html>');
  await writeFile(join(root, '..', 'secret.txt'), 'outside');
  await symlink(join(root, '..', 'secret.txt'), join(root, 'leak.txt'));
  assert.equal((await serveAppFile(root, 'lifeboat://app/index.html')).status, 200);
  assert.equal((await serveAppFile(root, 'lifeboat://app/leak.txt')).status, 404);
});

test('every channel is handled, only the app page may call, and payloads are validated', async () => {
  assert.deepEqual([...recorded.ipc.keys()].sort(), [...requestChannelNames].sort());
  for (const foreign of [
    'https://example.invalid/',
    pathToFileURL(join(import.meta.dirname, '..', '..', 'renderer', 'index.html')).href,
    'lifeboat://evil/index.html',
    'lifeboat://app/other.html',
  ]) {
    assert.equal((await invoke('vms.list', foreign, {})).error?.code, 'unauthorized', foreign);
  }
  assert.equal((await invoke('points.list', appUrl, { vm: 42 })).error?.code, 'bad-request');
  const vms = await invoke('vms.list', `${appUrl}#/vms`, {});
  assert.equal(vms.ok, true);
  assert.equal((vms.payload as { name: string }[])[0]?.name, 'electron-vm');
});

test('the page has a strict content security policy and no remote content', async () => {
  const html = await readFile(join(import.meta.dirname, '..', '..', 'renderer', 'index.html'), 'utf8');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'self'; style-src 'self';/);
  assert.doesNotMatch(html, /https?:\/\//, 'nothing is loaded from the network');
});
