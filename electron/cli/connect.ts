// The CLI talks to the engine that serves its home when one runs; otherwise it opens the
// engine in-process for the one command, or, for a listing, the home read-only (its catalog, and
// for `points` its repository: engine/read-only-home.ts). Either way it sees the same LifeboatApi. The engine is
// imported only when it opens here: a command served by a running engine loads the client side
// alone (the socket client, the contract, the formatting).
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import type { Engine, EngineOptions } from '../engine/engine.ts';
import type { ListingNeeds } from '../engine/read-only-home.ts';
import { LifeboatError } from '../errors.ts';
import { homePaths } from '../home.ts';
import { dispatch, type DispatchTarget } from '../rpc/dispatch.ts';
import { Peer, osCaller } from '../auth/peer.ts';
import { connectLocalSocket, engineIsRunning } from '../rpc/local-socket.ts';

export type Connection = { api: LifeboatApi; engine: Engine | null; close(): Promise<void> };

/** Requests to the engine or read-only home in this process, as the OS user running it until the
 * command signs in with a session. */
function invokeHere(target: DispatchTarget, connection: Peer): LifeboatApi['invoke'] {
  return <C extends RequestChannel>(channel: C, request: RequestOf<C>) =>
    dispatch(target, connection, channel, request) as Promise<ResponseOf<C>>;
}

/** The CLI's own engine. */
export function inProcessApi(engine: Engine, connection = new Peer(osCaller())): LifeboatApi {
  return {
    disconnection: engine.stopped,
    invoke: invokeHere(engine, connection),
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

/** The home read-only, for a listing; null when the engine must open instead. */
async function openReadOnly(home: string, needs: ListingNeeds): Promise<Connection | null> {
  const { openReadOnlyHome } = await import('../engine/read-only-home.ts');
  const opened = await openReadOnlyHome(home, needs);
  if (!opened) return null;
  // A read-only home has no jobs running, so no events to hear.
  const api: LifeboatApi = { invoke: invokeHere(opened, new Peer(osCaller())), on: () => () => undefined };
  return { api, engine: null, close: async () => opened.close() };
}

/** `secretsKey` is the operator's key source for an engine opened here (a running one has its
 * own); `listing`: what the command reads when it only reads the home (cli/read-only-commands.ts). */
export async function connect(
  home: string,
  secretsKey?: EngineOptions['secretsKey'],
  listing: ListingNeeds | null = null,
): Promise<Connection> {
  const { socket } = homePaths(home);
  if (await engineIsRunning(socket)) return connectRunning(socket);
  const readOnlyHome = listing ? await openReadOnly(home, listing) : null;
  if (readOnlyHome) return readOnlyHome;
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
