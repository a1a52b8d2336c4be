// The one place a request from any transport enters the engine: unknown channels, callers below
// the channel's role (electron/auth/roles.ts) and payloads that do not match the contract are
// refused with a clear error before any handler runs. A handler is given the caller's context: who
// asks, how the audit names them, and a signal that aborts when their connection goes away.
import { isRequestChannel, requestChannels, type RequestChannel, type ResponseOf } from '../../shared/contract.ts';
import { isConnectionChannel, type ConnectionHandlers } from '../auth/auth-handlers.ts';
import type { AuthService } from '../auth/auth-service.ts';
import type { Peer } from '../auth/peer.ts';
import { authorize, identityLabel } from '../auth/roles.ts';
import type { EngineChannel, Handlers } from '../engine/engine.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { CallContext } from '../handlers/handler-registry.ts';
import type { Caller } from '../../shared/accounts.ts';
import { LifeboatError } from '../errors.ts';

/** The context of a call by `caller`; without a signal (a transport that cannot tell when its
 * peer goes away, an in-process call), the call is never aborted. */
export function callContext(
  caller: Caller,
  signal: AbortSignal = new AbortController().signal,
  consoleSession: string | null = null,
): CallContext {
  return { caller, actor: identityLabel(caller), signal, consoleSession };
}

/** What requests are dispatched to: the engine (every channel), or a home opened read-only for a
 * listing (engine/read-only-home.ts: the channels of the read-only commands alone). */
export type DispatchTarget = {
  auth: Pick<AuthService, 'callerOf'>;
  connectionHandlers: ConnectionHandlers;
  handlers: Partial<Handlers>;
  catalog: Pick<Catalog, 'expandId'>;
};

export async function dispatch(engine: DispatchTarget, connection: Peer, channel: unknown, payload: unknown): Promise<unknown> {
  if (!isRequestChannel(channel)) throw new LifeboatError('bad-request', `unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}`);
  return call(engine, connection, channel, payload);
}

function parse<C extends RequestChannel>(channel: C, payload: unknown): unknown {
  const parsed = requestChannels[channel].request.safeParse(payload ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new LifeboatError('bad-request', `malformed ${channel} request${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

async function call<C extends RequestChannel>(
  engine: DispatchTarget,
  connection: Peer,
  channel: C,
  payload: unknown,
): Promise<ResponseOf<C>> {
  if (isConnectionChannel(channel)) {
    const handler = engine.connectionHandlers[channel] as (request: unknown, connection: Peer) => Promise<ResponseOf<C>>;
    return handler(parse(channel, payload), connection);
  }
  // Who asks is settled before the payload is looked at: a caller without the role learns nothing.
  const caller = authorize(channel, engine.auth.callerOf(connection));
  const handler = engine.handlers[channel as EngineChannel] as
    ((request: unknown, context: CallContext) => Promise<ResponseOf<C>>) | undefined;
  if (!handler) throw new LifeboatError('internal', `${channel} needs the engine; this home was opened read-only`);
  return handler(withFullIds(engine, parse(channel, payload)), callContext(caller, connection.signal, connection.consoleSession));
}

/** A request naming a job or an Instant Recovery session by the short id the console and the CLI
 * show gets the full id, whichever channel it is for. */
function withFullIds(engine: DispatchTarget, request: unknown): unknown {
  if (typeof request !== 'object' || request === null) return request;
  const named = request as { jobId?: unknown; sessionId?: unknown };
  return {
    ...request,
    ...(typeof named.jobId === 'string' ? { jobId: engine.catalog.expandId('job', named.jobId) } : {}),
    ...(typeof named.sessionId === 'string' ? { sessionId: engine.catalog.expandId('session', named.sessionId) } : {}),
  };
}
