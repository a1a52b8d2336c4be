// Who may call what: the roles in rising order and ONE table giving every contract channel the
// least role that may call it. `satisfies Record<RequestChannel, …>` makes a channel without an
// entry a type error, and test/unit/roles.test.ts checks the table against the contract.
import type { RequestChannel } from '../../shared/contract.ts';
import { roles, type Caller, type Role } from '../../shared/accounts.ts';
import { LifeboatError } from '../errors.ts';

/** 'anyone' channels are how a connection signs in (or asks who it is) before it has a role. */
export type MinimumRole = Role | 'anyone';

export const channelRoles = {
  'auth.login': 'anyone',
  'auth.resume': 'anyone',
  'auth.logout': 'anyone',
  'auth.whoami': 'anyone',

  'engine.info': 'viewer',
  'vms.list': 'viewer',
  'points.list': 'viewer',
  'jobs.list': 'viewer',
  'jobs.get': 'viewer',
  'settings.get': 'viewer',
  'catalog.get': 'viewer',
  'files.list': 'viewer',
  'files.listIndexed': 'viewer',
  'files.search': 'viewer',
  'audit.list': 'viewer',
  'audit.verify': 'viewer',
  'hosts.list': 'viewer',
  'proxies.list': 'viewer',
  'movers.list': 'viewer',
  'tape.inventory': 'viewer',
  'tape.library.list': 'viewer',
  'tape.copies': 'viewer',
  'tape.pullList': 'viewer',
  'rehearsal.report': 'viewer',
  'prompts.list': 'viewer',
  'instant.list': 'viewer',
  'arrays.list': 'viewer',
  'arrays.show': 'viewer',
  'snapshots.list': 'viewer',
  'azure.list': 'viewer',
  'repos.list': 'viewer',
  'copies.status': 'viewer',
  'keys.list': 'viewer',

  // Reading a backup's bytes or touching a host is an operator's work.
  'files.preview': 'operator',
  'hosts.inventory': 'operator',
  'restore.previewOriginal': 'operator',
  'restore.check': 'operator',
  'jobs.cancel': 'operator',
  'jobs.cancelMany': 'operator',
  'jobs.resume': 'operator',
  'jobs.discard': 'operator',
  'backup.start': 'operator',
  'restore.entireVm': 'operator',
  'verify.start': 'operator',
  'files.restore': 'operator',
  'files.download': 'operator',
  'files.index': 'operator',
  'files.restoreFromSnapshot': 'operator',
  'tape.import': 'operator',
  'tape.eject': 'operator',
  'tape.backup': 'operator',
  'tape.catalog': 'operator',
  'restore.tape': 'operator',
  'rehearsal.start': 'operator',
  'prompts.answer': 'operator',
  'instant.start': 'operator',
  'instant.migrate': 'operator',
  'instant.stop': 'operator',
  'arrays.snapshot': 'operator',
  'restore.fromSnapshot': 'operator',
  'restore.disks': 'operator',
  'restore.azure': 'operator',
  'copies.run': 'operator',

  'jobs.approve': 'approver',

  'settings.set': 'administrator',
  'catalog.move': 'administrator',
  'hosts.add': 'administrator',
  'hosts.remove': 'administrator',
  'proxies.add': 'administrator',
  'proxies.remove': 'administrator',
  'movers.add': 'administrator',
  'movers.remove': 'administrator',
  'tape.library.create': 'administrator',
  // Which library the home's tape jobs use is the home's configuration, like its hosts.
  'tape.library.add': 'administrator',
  'tape.library.use': 'administrator',
  'tape.library.remove': 'administrator',
  'arrays.create': 'administrator',
  'azure.add': 'administrator',
  'azure.remove': 'administrator',
  'repos.add': 'administrator',
  'repos.locate': 'administrator',
  'repos.remove': 'administrator',
  // A recovery key or a remembered key opens encrypted backups without their password.
  'keys.recovery': 'administrator',
  'keys.remember': 'administrator',
  'keys.forget': 'administrator',
  'keys.setPassword': 'administrator',
  'accounts.list': 'administrator',
  'accounts.add': 'administrator',
  'accounts.remove': 'administrator',
  'accounts.setRole': 'administrator',
  'accounts.setPassword': 'administrator',
  'directory.get': 'administrator',
  'directory.set': 'administrator',
  // Console session keys: who is connected, and cutting a browser off.
  'sessions.list': 'administrator',
  'sessions.revoke': 'administrator',
} as const satisfies Record<RequestChannel, MinimumRole>;

export function roleRank(role: Role): number {
  return roles.indexOf(role);
}

export function holdsRole(caller: Caller, least: Role): boolean {
  return roleRank(caller.role) >= roleRank(least);
}

/** Refuses a call its caller may not make, with one sentence naming the role it needs; returns
 * the caller, now known to be someone. */
export function authorize(channel: RequestChannel, caller: Caller | null): Caller {
  const least: MinimumRole = channelRoles[channel];
  if (!caller)
    throw new LifeboatError(
      'unauthorized',
      `sign in first: ${channel} needs an account${least === 'anyone' ? '' : ` with the ${least} role`}`,
    );
  if (least !== 'anyone' && !holdsRole(caller, least))
    throw new LifeboatError('unauthorized', `${identityLabel(caller)} has the ${caller.role} role; ${channel} needs the ${least} role`);
  return caller;
}

/** How an identity is written in the audit log and on jobs: how it was proven, then the name. */
export function identityLabel(caller: Caller): string {
  return `${caller.via}:${caller.account}`;
}

/** The person behind a label: `local:alice`, `directory:Alice` and an old plain `alice` are one. */
export function personOf(label: string): string {
  const match = /^(?:local|directory|os):(.*)$/s.exec(label);
  return (match ? (match[1] as string) : label).trim().toLowerCase();
}
