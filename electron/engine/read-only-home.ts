// A home opened for a listing while no engine holds it (electron/cli/read-only-commands.ts says
// which commands): its catalog alone, read-only, and for `points` and `files ls --from-index` its
// primary repository (which names the points), answering their channels through the engine's own
// dispatch (roles, payload checks, short ids) and handlers.
// It starts no block worker, driver, janitor or socket, runs no migration or recovery, and writes
// nothing (SQLite refuses any write on its connection). Where the engine would answer otherwise, or
// must change the home first, it is not opened and the command opens the engine as before: no
// catalog or repository yet, a catalog to migrate, unfinished jobs (only a stopped or dead engine
// leaves them; its start-up recovery decides their fate: interrupted, or queued again and run:
// JobQueue.recoverAfterRestart), or, for `points` and `files ls --from-index`, committed points
// the catalog has not recorded yet (its start-up reconcile records them: catalog/reconcile.ts).
import { join } from 'node:path';
import { finishedJobStates, jobStates } from '../../shared/domain.ts';
import { connectionHandlers, type ConnectionHandlers } from '../auth/auth-handlers.ts';
import { AuthService } from '../auth/auth-service.ts';
import { Catalog } from '../catalog/catalog.ts';
import { catalogBehindRepository } from '../catalog/reconcile.ts';
import { VmLookup } from '../catalog/vm-lookup.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import { DEFAULT_REPOSITORY, homePaths } from '../home.ts';
import { LifeboatError } from '../errors.ts';
import { Repository } from '../repository/repository.ts';
import { indexedFolderHandler } from '../items/indexed-folder.ts';
import { homeReadHandlers, pointsReadHandler } from './home-handlers.ts';
import { jobReadHandlers } from './jobs-handlers.ts';

const unfinishedStates = jobStates.filter((state) => !finishedJobStates.has(state));

/** What a listing reads: the catalog, or the primary repository too (`points`). */
export type ListingNeeds = 'catalog' | 'repository';

type CatalogChannel = 'jobs.list' | 'jobs.get' | 'settings.get' | 'audit.list';

/** What rpc/dispatch.ts dispatches to (a DispatchTarget), for the channels of the listings alone. */
export class ReadOnlyHome {
  readonly catalog: Catalog;
  readonly auth: AuthService;
  readonly connectionHandlers: ConnectionHandlers;
  readonly handlers: ChannelHandlers<CatalogChannel> & Partial<ChannelHandlers<'points.list' | 'files.listIndexed'>>;

  constructor(catalog: Catalog, repository: Repository | null) {
    this.catalog = catalog;
    // Only a saved sign-in is resumed here (a read); `login` and `logout` open the engine.
    this.auth = new AuthService({ accounts: catalog.accounts, audit: (...entry) => catalog.audit(...entry) });
    this.connectionHandlers = connectionHandlers(this.auth);
    this.handlers = {
      // No job is queued here (else the engine opens), so none has a place in a queue.
      ...jobReadHandlers(catalog, (jobs) => jobs),
      ...homeReadHandlers(catalog),
      ...(repository ? repositoryReadHandlers(catalog, new VmLookup({ catalog, repository })) : {}),
    };
  }

  close(): void {
    this.catalog.close();
  }
}

/** The listings that name a VM's points: the points, and a folder of a point's file index. */
function repositoryReadHandlers(catalog: Catalog, lookup: VmLookup): ChannelHandlers<'points.list' | 'files.listIndexed'> {
  return { ...pointsReadHandler(lookup), ...indexedFolderHandler(catalog, lookup) };
}

/** The primary repository as the engine reads it (every manifest against its recorded hash);
 * null when there is none yet (the engine makes it). */
async function primaryRepository(home: string, catalog: Catalog): Promise<Repository | null> {
  try {
    const primary = await Repository.open(join(homePaths(home).repositories, DEFAULT_REPOSITORY));
    return primary.withRecordedHashes((pointId) => catalog.manifestSha256(pointId));
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'not-found') return null;
    throw error;
  }
}

/** The home opened read-only for a listing, or null when the command must open the engine (see above). */
export async function openReadOnlyHome(home: string, needs: ListingNeeds): Promise<ReadOnlyHome | null> {
  const catalog = Catalog.openReadOnly(homePaths(home).catalog);
  if (!catalog) return null;
  try {
    if (catalog.jobsInState(unfinishedStates).length > 0) return declined(catalog);
    if (needs === 'catalog') return new ReadOnlyHome(catalog, null);
    const repository = await primaryRepository(home, catalog);
    if (!repository || (await catalogBehindRepository(catalog, repository))) return declined(catalog);
    return new ReadOnlyHome(catalog, repository);
  } catch (error) {
    catalog.close();
    throw error;
  }
}

function declined(catalog: Catalog): null {
  catalog.close();
  return null;
}
