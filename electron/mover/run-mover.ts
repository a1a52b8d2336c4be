// The mover's life: check its datastore views, join once (with the token) or load its identity,
// then stay connected: reconnect with backoff (1 s doubling to 10 s) whenever the link is lost,
// until a stop signal (0) or the engine refuses it for good (3: removed, revoked, spent token).
import { setTimeout as sleep } from 'node:timers/promises';
import { LifeboatError, type ErrorCode } from '../errors.ts';
import { checkDatastoreViews, DatastoreView } from './datastore-view.ts';
import { EngineRefused } from './engine-link.ts';
import { parseJoinToken } from '../movers/join-token.ts';
import { join } from './join.ts';
import type { EmitEvent } from './mover-events.ts';
import type { MoverOptions, MoverTuning } from './mover-options.ts';
import { runSession } from './mover-session.ts';
import { StateFolder, type MoverIdentity } from './state-folder.ts';

export const EXIT_REFUSED = 3;
/** Refusals no retry can change: removed, revoked, a spent token, a foreign certificate (forbidden),
 * or a mover the engine cannot speak with (bad-request: another protocol version). */
const REFUSED_FOR_GOOD = new Set<ErrorCode>(['forbidden', 'bad-request']);

type Backoff = { next(): number; reset(): void };

function backoff(tuning: MoverTuning): Backoff {
  let delay = 0;
  return {
    next: () => (delay = delay === 0 ? tuning.backoffFirstMs : Math.min(delay * 2, tuning.backoffMaxMs)),
    reset: () => (delay = 0),
  };
}

/** Waits `ms` unless stopped first. */
const pause = (ms: number, stop: AbortSignal): Promise<void> => sleep(ms, undefined, { signal: stop }).catch(() => undefined);

/** Joins with the token: an engine not reachable yet is retried; a refusal or a wrong CA is final. */
async function joinOnce(
  options: MoverOptions,
  tuning: MoverTuning,
  state: StateFolder,
  emit: EmitEvent,
  stop: AbortSignal,
): Promise<MoverIdentity | number> {
  const token = options.token as string;
  const { keyPem, publicKeyPem } = await state.joinKey();
  const delays = backoff(tuning);
  for (;;) {
    try {
      const joined = await join(options.engine, token, publicKeyPem, tuning.silenceMs, stop);
      await state.storeJoined(keyPem, joined.certificatePem, joined.caPem);
      emit({ event: 'joined', mover: joined.moverName });
      return (await state.identity()) as MoverIdentity;
    } catch (error) {
      if (error instanceof EngineRefused) {
        emit({ event: 'refused', code: error.code, message: error.message });
        if (REFUSED_FOR_GOOD.has(error.code)) return EXIT_REFUSED;
        throw error;
      }
      if (!(error instanceof LifeboatError) || error.code !== 'unavailable') throw error;
      if (stop.aborted) return 0;
      const retryInMs = delays.next();
      emit({ event: 'disconnected', reason: error.message, retryInMs });
      await pause(retryInMs, stop);
      if (stop.aborted) return 0;
    }
  }
}

export async function runMover(options: MoverOptions, tuning: MoverTuning, emit: EmitEvent, stop: AbortSignal): Promise<number> {
  if (options.token !== null) parseJoinToken(options.token); // a bad token makes nothing, not even the state folder
  const roots = await checkDatastoreViews(options.datastores);
  const views = new Map(Object.entries(roots).map(([name, root]) => [name, new DatastoreView(name, root)]));
  const state = await StateFolder.open(options.state);
  let identity = await state.identity();
  if (options.token !== null) {
    if (identity) throw new LifeboatError('conflict', `already joined as ${identity.name}; remove ${state.path}/cert.pem to join again`);
    const joined = await joinOnce(options, tuning, state, emit, stop);
    if (typeof joined === 'number') return joined;
    identity = joined;
  } else if (!identity) {
    throw new LifeboatError(
      'bad-request',
      `${state.path} holds no certificate: join first with --token (\`lifeboat movers add\` prints it)`,
    );
  }
  const delays = backoff(tuning);
  for (;;) {
    const end = await runSession({ options, tuning, state, identity, views, emit, stop });
    if (end.kind === 'stopped' || stop.aborted) return 0;
    if (end.kind === 'refused') {
      emit({ event: 'refused', code: end.code, message: end.message });
      if (REFUSED_FOR_GOOD.has(end.code)) return EXIT_REFUSED;
    }
    if (end.kind === 'lost' && end.welcomed) delays.reset();
    const retryInMs = delays.next();
    emit({ event: 'disconnected', reason: end.kind === 'lost' ? end.reason : `refused: ${end.message}`, retryInMs });
    await pause(retryInMs, stop);
    if (stop.aborted) return 0;
    // A renewal during the session stored a new certificate.
    identity = (await state.identity()) ?? identity;
  }
}
