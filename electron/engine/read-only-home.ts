// A home opened for a listing while no engine holds it (electron/cli/read-only-commands.ts says
// which commands): its catalog alone, read-only, answering their channels through the engine's own
// dispatch (roles, payload checks, short ids) and handlers. It starts no block worker, driver,
// janitor or socket, runs no migration or recovery, and writes nothing (SQLite refuses any write on
// its connection). Where the engine would answer otherwise, or must change the home first, it is
// not opened and the command opens the engine as before: no catalog yet, a catalog to migrate, or
// unfinished jobs, which only a stopped or dead engine leaves behind and whose fate its start-up
// recovery decides (interrupted, or queued again and run: JobQueue.recoverAfterRestart).
import { finishedJobStates, jobStates } from '../../shared/domain.ts';
import { connectionHandlers, type ConnectionHandlers } from '../auth/auth-handlers.ts';
import { AuthService } from '../auth/auth-service.ts';
import { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import { homePaths } from '../home.ts';
import { homeReadHandlers } from './home-handlers.ts';
import { jobReadHandlers } from './jobs-handlers.ts';

const unfinishedStates = jobStates.filter((state) => !finishedJobStates.has(state));

/** The channels a home opened read-only answers. */
export type ReadOnlyChannel = 'jobs.list' | 'jobs.get' | 'settings.get' | 'audit.list';

/** What rpc/dispatch.ts dispatches to (a DispatchTarget), for the channels above alone. */
export class ReadOnlyHome {
  readonly catalog: Catalog;
  readonly auth: AuthService;
  readonly connectionHandlers: ConnectionHandlers;
  readonly handlers: ChannelHandlers<ReadOnlyChannel>;

  constructor(catalog: Catalog) {
    this.catalog = catalog;
    // Only a saved sign-in is resumed here (a read); `login` and `logout` open the engine.
    this.auth = new AuthService({ accounts: catalog.accounts, audit: (...entry) => catalog.audit(...entry) });
    this.connectionHandlers = connectionHandlers(this.auth);
    // No job is queued here (else the engine opens), so none has a place in a queue.
    this.handlers = { ...jobReadHandlers(catalog, (jobs) => jobs), ...homeReadHandlers(catalog) };
  }

  close(): void {
    this.catalog.close();
  }
}

/** The home opened read-only, or null when the command must open the engine (see above). */
export function openReadOnlyHome(home: string): ReadOnlyHome | null {
  const catalog = Catalog.openReadOnly(homePaths(home).catalog);
  if (!catalog) return null;
  if (catalog.jobsInState(unfinishedStates).length > 0) {
    catalog.close();
    return null;
  }
  return new ReadOnlyHome(catalog);
}
