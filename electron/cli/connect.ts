// The CLI talks to the engine that serves its home when one runs; otherwise it opens the
// engine in-process for the one command. Either way it sees the same LifeboatApi.
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import { Engine, type EngineOptions } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import { homePaths } from '../home.ts';
import { dispatch } from '../rpc/dispatch.ts';
import { connectLocalSocket, engineIsRunning } from '../rpc/local-socket.ts';

export type Connection = { api: LifeboatApi; engine: Engine | null; close(): Promise<void> };

export function inProcessApi(engine: Engine): LifeboatApi {
  return {
    invoke: <C extends RequestChannel>(channel: C, request: RequestOf<C>) => dispatch(engine, channel, request) as Promise<ResponseOf<C>>,
    on: <E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void) => engine.events.on(event, listener),
  };
}

async function connectRunning(socket: string): Promise<Connection> {
  const client = await connectLocalSocket(socket);
  return { api: client, engine: null, close: async () => client.close() };
}

/** `secretsKey` is the operator's key source for an engine opened here (a running one has its own). */
export async function connect(home: string, secretsKey?: EngineOptions['secretsKey']): Promise<Connection> {
  const { socket } = homePaths(home);
  if (await engineIsRunning(socket)) return connectRunning(socket);
  try {
    const engine = await Engine.open({ home, ...(secretsKey ? { secretsKey } : {}) });
    return { api: inProcessApi(engine), engine, close: () => engine.close() };
  } catch (error) {
    // Another process claimed the home between our look and our open: use its engine.
    if (error instanceof LifeboatError && error.code === 'conflict' && (await engineIsRunning(socket))) return connectRunning(socket);
    throw error;
  }
}
