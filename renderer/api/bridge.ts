// Which transport carries the contract: Electron's preload bridge when the console runs in the
// app, the WebSocket of `lifeboat serve` when it runs in a browser. Views only see LifeboatApi.
import type { LifeboatApi } from '../../shared/contract.ts';
import { connectWebSocket } from './websocket.ts';
import { fromPreload, type PreloadBridge } from './preload-bridge.ts';

declare global {
  interface Window {
    lifeboat?: PreloadBridge;
  }
}

/** `onSignedOut`: the browser's session ended (the app's IPC has no sessions). */
export async function connectApi(onSignedOut: (message: string) => void): Promise<LifeboatApi> {
  if (window.lifeboat) return fromPreload(window.lifeboat);
  return connectWebSocket(onSignedOut);
}
