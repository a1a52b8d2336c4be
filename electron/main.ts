// Electron main process: a thin host. It opens the engine for the app's home, serves the
// contract over IPC (validated by the same dispatcher as every other transport), and opens one
// hardened window. All restore logic lives in the engine, which knows nothing of Electron.
import { app, BrowserWindow, ipcMain, safeStorage, session, type IpcMainInvokeEvent } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { requestChannels } from '../shared/contract.ts';
import { Engine } from './engine/engine.ts';
import { toWireError } from './errors.ts';
import { resolveHome } from './home.ts';
import type { IpcEnvelope } from './ipc-envelope.ts';
import { createLab } from './lab/create-lab.ts';
import { dispatch } from './rpc/dispatch.ts';
import { Peer, osCaller } from './auth/peer.ts';

const here = dirname(fileURLToPath(import.meta.url));
const rendererIndex = join(here, '..', 'renderer', 'index.html');
const rendererUrl = pathToFileURL(rendererIndex).href;

function trustedSender(event: IpcMainInvokeEvent): boolean {
  return event.senderFrame?.url === rendererUrl;
}

/** The app's window is its OS user's (an administrator) until someone signs in on it. */
function serveIpc(engine: Engine): void {
  const connection = new Peer(osCaller());
  for (const channel of Object.keys(requestChannels)) {
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

function openWindow(engine: Engine): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'Lifeboat',
    webPreferences: { preload: join(here, 'preload.cjs'), contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true },
  });
  window.webContents.on('will-navigate', (event) => event.preventDefault());
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  const off = engine.events.onAny((event, payload) => {
    if (!window.isDestroyed()) window.webContents.send(event, payload);
  });
  window.on('closed', off);
  void window.loadFile(rendererIndex);
  return window;
}

async function start(): Promise<void> {
  const homeFlag = process.argv.find((arg) => arg.startsWith('--home='))?.slice('--home='.length);
  const home = resolveHome(homeFlag ?? process.env.LIFEBOAT_HOME ?? app.getPath('userData'));
  // Host passwords go to the OS keyring through safeStorage where it is available.
  const sealer = safeStorage.isEncryptionAvailable() ? { seal: (plain: string) => safeStorage.encryptString(plain), open: (sealed: Buffer) => safeStorage.decryptString(sealed) } : undefined;
  const engine = await Engine.open({ home, ...(sealer ? { sealer } : {}) });
  if (engine.catalog.listVms().length === 0) await createLab(engine, { vms: 3, points: 3, diskMib: 64 });
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  serveIpc(engine);
  openWindow(engine);
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

app.whenReady().then(start, (error: unknown) => {
  console.error(`lifeboat: ${toWireError(error).message}`);
  app.exit(1);
});
