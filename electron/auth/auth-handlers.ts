// The channels that change who a connection is: they act on the connection, not on the engine,
// so dispatch hands them the connection instead of a caller.
import type { RequestChannel, ResponseOf, requestChannels } from '../../shared/contract.ts';
import type { z } from 'zod';
import type { AuthService } from './auth-service.ts';
import type { Peer } from './peer.ts';

export const connectionChannels = ['auth.login', 'auth.resume', 'auth.logout', 'auth.whoami'] as const satisfies readonly RequestChannel[];
export type ConnectionChannel = (typeof connectionChannels)[number];

export function isConnectionChannel(channel: RequestChannel): channel is ConnectionChannel {
  return (connectionChannels as readonly string[]).includes(channel);
}

type Parsed<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['request']>;
export type ConnectionHandlers = { [C in ConnectionChannel]: (request: Parsed<C>, connection: Peer) => Promise<ResponseOf<C>> };

export function connectionHandlers(auth: AuthService): ConnectionHandlers {
  return {
    'auth.login': async ({ user, password }, connection) => {
      const signedIn = await auth.login(user, password);
      auth.signIn(connection, signedIn.token);
      return signedIn;
    },
    'auth.resume': async ({ token }, connection) => {
      const identity = auth.resume(token);
      auth.signIn(connection, token);
      return identity;
    },
    'auth.logout': async (_request, connection) => {
      if (connection.token === null) return { signedOut: false };
      const ended = auth.logout(connection.token);
      connection.token = null;
      return { signedOut: ended };
    },
    'auth.whoami': async (_request, connection) => {
      if (connection.token !== null) return auth.resume(connection.token);
      return connection.unsignedCaller ? { ...connection.unsignedCaller, expiresAt: null } : null;
    },
  };
}
