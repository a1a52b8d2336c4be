// Preload (sandboxed, context-isolated): one function per request channel and one on* per event,
// each on* returning its unsubscribe, all built from the contract's generated names (the bundle
// may require only 'electron', so no zod here). No Node or Electron object reaches the page.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import type { IpcEnvelope } from '../shared/contract.ts';
import { RemoteError } from '../shared/frame-client.ts';
import { eventChannelNames, eventSubscribers, requestChannelNames } from '../shared/generated/channels.ts';

const bridge: Record<string, unknown> = {};
for (const channel of requestChannelNames) {
  bridge[channel] = async (request: unknown) => {
    const envelope = (await ipcRenderer.invoke(channel, request)) as IpcEnvelope;
    if (envelope.ok) return envelope.payload;
    throw new RemoteError(envelope.error.code, envelope.error.message);
  };
}
for (const event of eventChannelNames) {
  bridge[eventSubscribers[event]] = (listener: (payload: unknown) => void) => {
    const forward = (_event: IpcRendererEvent, payload: unknown): void => listener(payload);
    ipcRenderer.on(event, forward);
    return () => void ipcRenderer.removeListener(event, forward);
  };
}
contextBridge.exposeInMainWorld('lifeboat', bridge);
