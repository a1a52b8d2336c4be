// The sandboxed preload against a recorder of Electron's contextBridge and ipcRenderer (node:test
// module mocks; no Electron binary here): it exposes what the contract's generated names say, and
// the renderer's fromPreload turns that back into the LifeboatApi the views use.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import type { IpcEnvelope } from '../../shared/contract.ts';
import { RemoteError } from '../../shared/frame-client.ts';
import { eventSubscribers, requestChannelNames } from '../../shared/generated/channels.ts';
import { fromPreload, type PreloadBridge } from '../../renderer/api/preload-bridge.ts';

type Forward = (event: object, payload: unknown) => void;
const exposed = new Map<string, PreloadBridge>();
const forwards = new Map<string, Set<Forward>>();

mock.module('electron', {
  exports: {
    contextBridge: { exposeInMainWorld: (key: string, api: PreloadBridge) => void exposed.set(key, api) },
    ipcRenderer: {
      invoke: async (channel: string, request: unknown): Promise<IpcEnvelope> =>
        channel === 'jobs.get'
          ? { ok: false, error: { code: 'not-found', message: 'there is no job 7' } }
          : { ok: true, payload: { channel, request } },
      on: (event: string, forward: Forward) => void forwards.set(event, (forwards.get(event) ?? new Set()).add(forward)),
      removeListener: (event: string, forward: Forward) => void forwards.get(event)?.delete(forward),
    },
  },
});
await import('../../electron/preload.ts');
const bridge = exposed.get('lifeboat');
assert.ok(bridge, 'the preload exposes window.lifeboat');

test('the preload exposes one function per request channel and one on* per event, nothing else', () => {
  assert.deepEqual(Object.keys(bridge).sort(), [...requestChannelNames, ...Object.values(eventSubscribers)].sort());
  assert.ok(Object.values(bridge).every((value) => typeof value === 'function'));
});

test('a request answers with the envelope payload, or rejects with the engine code and sentence', async () => {
  const api = fromPreload(bridge);
  assert.deepEqual(await api.invoke('vms.list', {}), { channel: 'vms.list', request: {} });
  await assert.rejects(
    api.invoke('jobs.get', { jobId: '7' }),
    (error) => error instanceof RemoteError && error.code === 'not-found' && error.message === 'there is no job 7',
  );
});

test('an event reaches its listener until the listener unsubscribes', () => {
  const api = fromPreload(bridge);
  const heard: unknown[] = [];
  const off = api.on('job.progress', (payload) => heard.push(payload));
  const emit = (payload: unknown): void => forwards.get('job.progress')?.forEach((forward) => forward({}, payload));
  emit('first');
  off();
  emit('second');
  assert.deepEqual(heard, ['first']);
});
