// Which transport carries the contract: Electron's preload bridge when the console runs in the
// app, the WebSocket of `lifeboat serve` when it runs in a browser. Views only see LifeboatApi.
import type { LifeboatApi } from '../../shared/contract.ts';
import { connectWebSocket, type ConnectionHooks } from './websocket.ts';
import { fromPreload, type PreloadBridge } from './preload-bridge.ts';

declare global {
  interface Window {
    lifeboat?: PreloadBridge;
  }
}

/** The hooks matter only in a browser: the app's IPC has no sessions and never drops. */
export async function connectApi(hooks: ConnectionHooks): Promise<LifeboatApi> {
  if (window.lifeboat) return fromPreload(window.lifeboat);
  return connectWebSocket(hooks);
}
