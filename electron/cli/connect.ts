// The CLI talks to the engine that serves its home when one runs; otherwise it opens the
// engine in-process for the one command. Either way it sees the same LifeboatApi. The engine
// is imported only in the second case: a command served by a running engine loads the client
// side alone (the socket client, the contract, the formatting).
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import type { Engine, EngineOptions } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import { homePaths } from '../home.ts';
import { dispatch } from '../rpc/dispatch.ts';
import { Peer, osCaller } from '../auth/peer.ts';
import { connectLocalSocket, engineIsRunning } from '../rpc/local-socket.ts';

export type Connection = { api: LifeboatApi; engine: Engine | null; close(): Promise<void> };

/** The CLI's own engine: the OS user running it, until the command signs in with a session. */
export function inProcessApi(engine: Engine, connection = new Peer(osCaller())): LifeboatApi {
  return {
    disconnection: engine.stopped,
    invoke: <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
      dispatch(engine, connection, channel, request) as Promise<ResponseOf<C>>,
    on: <E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void) => engine.events.on(event, listener),
  };
}

async function connectRunning(socket: string): Promise<Connection> {
  const client = await connectLocalSocket(socket);
  return { api: client, engine: null, close: async () => client.close() };
}

/** The command's own engine ends only when the jobs the command queued have ended, follow-ups
 * included (a backup's index job): closing it earlier would interrupt them. A stop signal
 * closes it at once instead (see signals.ts). */
async function drainThenClose(engine: Engine): Promise<void> {
  const unfinished = engine.stopping ? [] : engine.jobs.unfinished();
  if (unfinished.length > 0) {
    process.stderr.write(
      `no engine serves this home: finishing ${unfinished.map((job) => `${job.kind} job ${job.id}`).join(', ')} before exiting (\`lifeboat serve\` keeps an engine running)\n`,
    );
    await engine.jobs.idle();
  }
  await engine.close();
}

/** `secretsKey` is the operator's key source for an engine opened here (a running one has its own). */
export async function connect(home: string, secretsKey?: EngineOptions['secretsKey']): Promise<Connection> {
  const { socket } = homePaths(home);
  if (await engineIsRunning(socket)) return connectRunning(socket);
  try {
    const { openServedEngine } = await import('../rpc/open-served-engine.ts');
    const engine = await openServedEngine({ home, ...(secretsKey ? { secretsKey } : {}) });
    return { api: inProcessApi(engine), engine, close: () => drainThenClose(engine) };
  } catch (error) {
    // Another process claimed the home between our look and our open: use its engine.
    if (error instanceof LifeboatError && error.code === 'conflict' && (await engineIsRunning(socket))) return connectRunning(socket);
    throw error;
  }
}
