// The channels that administer who may sign in: the accounts, the directory sign-in, and the live
// sessions of the browser console.
import type { ResponseOf } from '../../shared/contract.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { AuthService } from './auth-service.ts';

/** What the session channels need of the console's session store. */
export type ConsoleSessions = { list(): ResponseOf<'sessions.list'>; revoke(id: string): boolean; revokeAll(): number };

type AccountChannel =
  | 'accounts.list'
  | 'accounts.add'
  | 'accounts.remove'
  | 'accounts.setRole'
  | 'accounts.setPassword'
  | 'directory.get'
  | 'directory.set'
  | 'sessions.list'
  | 'sessions.revoke';

export function accountHandlers(auth: AuthService, sessions: ConsoleSessions, catalog: Catalog): ChannelHandlers<AccountChannel> {
  return {
    'accounts.list': async () => auth.listAccounts(),
    'accounts.add': async ({ name, role, password }, { caller }) => auth.addAccount(name, role, password, caller),
    'accounts.remove': async ({ name }, { caller }) => {
      auth.removeAccount(name, caller);
      return { removed: name };
    },
    'accounts.setRole': async ({ name, role }, { caller }) => auth.setRole(name, role, caller),
    'accounts.setPassword': async ({ name, password }, { caller }) => auth.setPassword(name, password, caller),
    'directory.get': async () => auth.directory(),
    'directory.set': async ({ directory }, { caller }) => auth.setDirectory(directory, caller),
    'sessions.list': async () => sessions.list(),
    'sessions.revoke': async (request, { actor }) => {
      const revoked = 'all' in request ? sessions.revokeAll() : Number(sessions.revoke(request.id));
      if ('id' in request && revoked === 0)
        throw new LifeboatError('not-found', `no live console session ${request.id}; \`lifeboat sessions\` lists them`);
      catalog.audit(actor, 'sessions.revoke', 'id' in request ? request.id : null, { revoked });
      return { revoked };
    },
  };
}
