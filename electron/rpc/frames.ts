// Frame handling shared by the socket transports (WebSocket and the home's local socket):
// parse a client frame, dispatch it, and forward engine events to the peer.
import { ClientFrame, type ServerFrame } from '../../shared/contract.ts';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import { dispatch } from './dispatch.ts';
import type { Peer } from '../auth/peer.ts';

export const MAX_FRAME_BYTES = 1024 * 1024;
/** Requests one peer may have running at once; more get an error instead of piling up. */
export const MAX_REQUESTS_IN_FLIGHT = 64;

export function parseClientFrame(text: string): ClientFrame {
  if (text.length > MAX_FRAME_BYTES) throw new LifeboatError('bad-request', 'frame larger than 1 MiB');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LifeboatError('bad-request', 'frame is not JSON');
  }
  const frame = ClientFrame.safeParse(json);
  if (!frame.success) throw new LifeboatError('bad-request', `malformed frame: ${frame.error.issues[0]?.message ?? 'invalid'}`);
  return frame.data;
}

/** Serves one peer as `connection` says who it is; events go only to a peer known to be someone.
 * Returns the function that stops forwarding events. */
export function servePeer(
  engine: Engine,
  connection: Peer,
  send: (frame: ServerFrame) => void,
): { handle(frame: ClientFrame): void; close(): void } {
  const unsubscribe = engine.events.onAny((event, payload) => {
    if (engine.auth.mayHearEvents(connection)) send({ type: 'event', event, payload });
  });
  let inFlight = 0;
  return {
    handle(frame) {
      if (frame.type !== 'request') return;
      if (inFlight >= MAX_REQUESTS_IN_FLIGHT) {
        send({
          type: 'response',
          id: frame.id,
          ok: false,
          error: { code: 'unavailable', message: `more than ${MAX_REQUESTS_IN_FLIGHT} requests at once; wait for answers first` },
        });
        return;
      }
      inFlight += 1;
      dispatch(engine, connection, frame.channel, frame.payload)
        .then(
          (payload) => send({ type: 'response', id: frame.id, ok: true, payload }),
          (error: unknown) => send({ type: 'response', id: frame.id, ok: false, error: toWireError(error) }),
        )
        .finally(() => {
          inFlight -= 1;
        });
    },
    close: () => {
      unsubscribe();
      connection.left();
    },
  };
}
