// The catalog's migrations in the order they apply, one file each. A released migration is never
// edited (a catalog that applied it would not see the change): a change to the schema is a new file.
import { LifeboatError } from '../../errors.ts';
import * as initialCatalog from './01-initial-catalog.ts';
import * as hosts from './02-hosts.ts';
import * as proxies from './03-proxies.ts';
import * as restoreCheckpoints from './04-restore-checkpoints.ts';
import * as auditHashChain from './05-audit-hash-chain.ts';
import * as jobResources from './06-job-resources.ts';
import * as settingsAndApprovals from './07-settings-and-approvals.ts';
import * as fileIndex from './08-file-index.ts';
import * as tape from './09-tape.ts';
import * as jobSamples from './10-job-samples.ts';
import * as instantSessions from './11-instant-sessions.ts';
import * as storageArrays from './12-storage-arrays.ts';
import * as instantFromSnapshot from './13-instant-from-snapshot.ts';
import * as azureAccounts from './14-azure-accounts.ts';
import * as copiesAndKeys from './15-copies-and-keys.ts';
import * as signIn from './16-sign-in.ts';
import * as publishedFiles from './17-published-files.ts';
import * as manifestHash from './18-manifest-hash.ts';
import * as indexGaps from './19-index-gaps.ts';
import * as instantResume from './20-instant-resume.ts';
import * as tapeLibraries from './21-tape-libraries.ts';
import * as backupSnapshots from './22-backup-snapshots.ts';
import * as movers from './23-movers.ts';
import * as consoleSessions from './24-console-sessions.ts';
import * as sharedEngines from './25-shared-engines.ts';
import * as indexFolders from './26-index-folders.ts';
import * as indexListings from './27-index-listings.ts';

/** One step of the schema: applied in its own transaction, then user_version = version. Tables
 * are STRICT so a wrong type is an error, not a silent conversion. */
export type Migration = { readonly version: number; readonly purpose: string; readonly sql: string };

/** The list itself, refused unless its versions are 1..N in order: user_version records the last
 * one applied, so a gap or a swap would skip a migration on some catalogs. */
export function inOrder(list: readonly Migration[]): readonly Migration[] {
  list.forEach((migration, index) => {
    if (migration.version !== index + 1)
      throw new LifeboatError('internal', `catalog migration #${index + 1} in the list has version ${migration.version}`);
  });
  return list;
}

export const migrations = inOrder([
  initialCatalog,
  hosts,
  proxies,
  restoreCheckpoints,
  auditHashChain,
  jobResources,
  settingsAndApprovals,
  fileIndex,
  tape,
  jobSamples,
  instantSessions,
  storageArrays,
  instantFromSnapshot,
  azureAccounts,
  copiesAndKeys,
  signIn,
  publishedFiles,
  manifestHash,
  indexGaps,
  instantResume,
  tapeLibraries,
  backupSnapshots,
  movers,
  consoleSessions,
  sharedEngines,
  indexFolders,
  indexListings,
]);

/** The schema version this engine writes. */
export const newestVersion = migrations.length;
