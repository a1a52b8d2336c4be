// Electron main process: a thin host. It opens the engine for the app's home, serves the
// contract over IPC (validated by the same dispatcher as every other transport), and opens one
// hardened window on lifeboat://app/. All restore logic lives in the engine, which knows
// nothing of Electron. Electron's security checklist, rule by rule, is in
// test/unit/electron-main.test.ts.
import { app, BrowserWindow, ipcMain, protocol, safeStorage, session, type IpcMainInvokeEvent, type WebContents } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IpcEnvelope } from '../shared/contract.ts';
import { requestChannelNames } from '../shared/generated/channels.ts';
import { APP_INDEX_URL, APP_SCHEME, isAppUrl, serveAppFile } from './app-protocol.ts';
import { Engine } from './engine/engine.ts';
import { openServedEngine } from './rpc/open-served-engine.ts';
import { toWireError } from './errors.ts';
import { resolveHome } from './home.ts';
import { dispatch } from './rpc/dispatch.ts';
import { Peer, osCaller } from './auth/peer.ts';
import type { Sealer } from './secrets/sealer.ts';

const here = dirname(fileURLToPath(import.meta.url));
const rendererRoot = join(here, '..', 'renderer');
/** The console asks for desktop notifications (job ended); nothing else is ever granted. */
const grantedPermissions = new Set(['notifications']);

// Before ready: the app's scheme is a standard, secure origin of its own.
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

function trustedSender(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url;
  return url !== undefined && isAppUrl(url) && new URL(url).pathname === '/index.html';
}

/** The app's window is its OS user's (an administrator) until someone signs in on it. */
function serveIpc(engine: Engine): void {
  const connection = new Peer(osCaller());
  for (const channel of requestChannelNames) {
    ipcMain.handle(channel, async (event, payload: unknown): Promise<IpcEnvelope> => {
      if (!trustedSender(event)) return { ok: false, error: { code: 'unauthorized', message: 'request from an untrusted frame' } };
      try {
        return { ok: true, payload: await dispatch(engine, connection, channel, payload) };
      } catch (error) {
        return { ok: false, error: toWireError(error) };
      }
    });
  }
}

/** Every web contents the app ever makes (windows, and anything a page might try to open):
 * no webviews, no new windows, no navigation or redirect out of the app's origin. */
function guardContents(contents: WebContents): void {
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const stayInApp = (event: { preventDefault(): void }, url: string): void => {
    if (!isAppUrl(url)) event.preventDefault();
  };
  contents.on('will-navigate', stayInApp);
  contents.on('will-redirect', stayInApp);
}

function openWindow(engine: Engine): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Lifeboat',
    webPreferences: {
      preload: join(here, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
    },
  });
  const off = engine.events.onAny((event, payload) => {
    if (!window.isDestroyed()) window.webContents.send(event, payload);
  });
  window.on('closed', off);
  void window.loadURL(APP_INDEX_URL);
  return window;
}

/** safeStorage where the OS keyring really seals. On Linux without a keyring its 'basic_text'
 * backend uses a fixed password: the engine's own key sources are used instead, and what an
 * older app sealed that way is re-sealed under them. */
function keyringSealers(): { sealer?: Sealer; formerSealer?: Sealer } {
  if (!safeStorage.isEncryptionAvailable()) return {};
  const sealer: Sealer = { seal: (plain) => safeStorage.encryptString(plain), open: (sealed) => safeStorage.decryptString(sealed) };
  if (process.platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') return { formerSealer: sealer };
  return { sealer };
}

async function start(): Promise<void> {
  app.on('web-contents-created', (_event, contents) => guardContents(contents));
  const defaultSession = session.defaultSession;
  defaultSession.setPermissionRequestHandler((_contents, permission, callback, details) =>
    callback(grantedPermissions.has(permission) && isAppUrl(details.requestingUrl)),
  );
  defaultSession.setPermissionCheckHandler(
    (_contents, permission, requestingOrigin) => grantedPermissions.has(permission) && isAppUrl(requestingOrigin),
  );
  protocol.handle(APP_SCHEME, (request) => serveAppFile(rendererRoot, request.url));

  const homeFlag = process.argv.find((arg) => arg.startsWith('--home='))?.slice('--home='.length);
  const home = resolveHome(homeFlag ?? process.env.LIFEBOAT_HOME ?? app.getPath('userData'));
  const engine = await openServedEngine({ home, ...keyringSealers() });
  serveIpc(engine);
  const window = openWindow(engine);
  // A second start (say, a double click) brings this window forward instead of a second engine.
  app.on('second-instance', () => {
    if (window.isDestroyed()) return;
    if (window.isMinimized()) window.restore();
    window.focus();
  });
  app.on('window-all-closed', () => app.quit());
  // Quitting waits for the engine's stop: running jobs end interrupted (resumable), not left running.
  let engineStopped = false;
  app.on('will-quit', (event) => {
    if (engineStopped) return;
    event.preventDefault();
    void engine.close().finally(() => {
      engineStopped = true;
      app.quit();
    });
  });
}

// One app per user: the home's socket would refuse a second engine anyway; this says so early.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app
    .whenReady()
    .then(start)
    .catch((error: unknown) => {
      console.error(`lifeboat: ${toWireError(error).message}`);
      app.exit(1);
    });
}
