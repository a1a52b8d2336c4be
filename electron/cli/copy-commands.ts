// `lifeboat repos …`, `copies …` and `keys …`: copy repositories and their regions, the copy
// policy and its jobs, chain keys; and the flags every restore of a repository point shares
// (--from-region, --password-env, --recovery-key).
import { readFile, writeFile } from 'node:fs/promises';
import type { LifeboatApi } from '../../shared/contract.ts';
import type { PointCopy } from '../../shared/domain.ts';
import { table } from '../../shared/format.ts';
import { checkedOutFile, runJobCommand, UsageError, type Output } from './cli-output.ts';
import { isErrnoCode } from '../errors.ts';

export type CopyFlags = {
  'password-env'?: string | undefined;
  'new-password-env'?: string | undefined;
  'recovery-key'?: string | undefined;
  'from-region'?: string | undefined;
  path?: string | undefined;
  region?: string | undefined;
  zone?: string | undefined;
  out?: string | undefined;
  vm?: string | undefined;
  detach?: boolean | undefined;
};

/** A password from the environment variable a flag names (never from the command line). */
export function passwordFrom(variable: string | undefined, flag: string): string | undefined {
  if (variable === undefined) return undefined;
  const password = process.env[variable];
  if (!password) throw new UsageError(`environment variable ${variable} (${flag}) is empty or not set`);
  return password;
}

/** The source flags of a restore: region, password, recovery key file. */
export async function sourceChoice(values: CopyFlags): Promise<{ fromRegion?: string; password?: string; recoveryKey?: string }> {
  const password = passwordFrom(values['password-env'], '--password-env');
  const recoveryKey = values['recovery-key'] === undefined ? undefined : await readFile(values['recovery-key'], 'utf8');
  return {
    ...(values['from-region'] ? { fromRegion: values['from-region'] } : {}),
    ...(password ? { password } : {}),
    ...(recoveryKey ? { recoveryKey } : {}),
  };
}

/** "default (snapshot), near (vault, primary/zone-2), T00001L9 (tape)". */
export function copiesText(copies: PointCopy[]): string {
  return copies
    .map(
      (copy) =>
        `${copy.name} (${copy.kind === 'tape' ? 'tape' : `${copy.tier}, ${copy.region}/${copy.zone}`}${copy.state === 'missing' ? ', MISSING' : ''})`,
    )
    .join(', ');
}

export async function reposCommand(api: LifeboatApi, rest: string[], values: CopyFlags, out: Output): Promise<number> {
  const [action, name] = rest;
  if (action === undefined) {
    const sites = await api.invoke('repos.list', {});
    out.print(
      table([
        ['NAME', 'ROLE', 'REGION', 'ZONE', 'PATH'],
        ...sites.map((site) => [site.name, site.role, site.region, site.zone, site.path]),
      ]),
      sites,
    );
    return 0;
  }
  if (!name) throw new UsageError(`repos ${action} takes a repository name`);
  if (action === 'add' || action === 'locate') {
    if (!values.region || !values.zone || (action === 'add' && !values.path))
      throw new UsageError(`repos ${action} takes: <name> ${action === 'add' ? '--path DIR ' : ''}--region R --zone Z`);
    const site =
      action === 'add'
        ? await api.invoke('repos.add', { name, path: values.path as string, region: values.region, zone: values.zone })
        : await api.invoke('repos.locate', { name, region: values.region, zone: values.zone });
    out.print(`repository ${site.name} (${site.role}) is in region ${site.region}, zone ${site.zone}: ${site.path}`, site);
    return 0;
  }
  if (action === 'remove') {
    out.print(`repository ${name} removed from the catalog; its files stay where they are`, await api.invoke('repos.remove', { name }));
    return 0;
  }
  throw new UsageError('repos takes: add <name> --path DIR --region R --zone Z | locate <name> --region R --zone Z | remove <name>');
}

export async function copiesCommand(api: LifeboatApi, rest: string[], values: CopyFlags, out: Output): Promise<number> {
  const [action, argument] = rest;
  if (action === 'policy') {
    if (argument !== 'none' && argument !== 'lrs' && argument !== 'zrs' && argument !== 'grs')
      throw new UsageError('copies policy takes: none | lrs | zrs | grs');
    const settings = await api.invoke('settings.set', { copyPolicy: argument });
    out.print(`copy policy ${settings.copyPolicy.toUpperCase()}; \`lifeboat copies run\` brings the copies up to it`, settings);
    return 0;
  }
  if (action === 'run') {
    const { job } = await api.invoke('copies.run', rest.length > 1 ? { vms: rest.slice(1) } : {});
    return runJobCommand(api, job, values.detach ?? false, out);
  }
  if (action !== undefined && action !== 'status')
    throw new UsageError('copies takes: [status] [--vm V] | policy none|lrs|zrs|grs | run [<vm>...]');
  const status = await api.invoke('copies.status', values.vm ? { vm: values.vm } : {});
  const rows = status.vms.flatMap((vm) =>
    vm.points.map((point) => [
      vm.vmName,
      String(point.sequence),
      point.meetsPolicy ? 'met' : `lacks ${point.lacking.join(', ')}`,
      copiesText(point.copies),
    ]),
  );
  const head = `copy policy ${status.policy.toUpperCase()}${status.problem ? ` — cannot be met: ${status.problem}` : ''}`;
  out.print(`${head}\n${table([['VM', 'POINT', 'POLICY', 'COPIES'], ...rows])}`, status);
  return 0;
}

export async function keysCommand(api: LifeboatApi, rest: string[], values: CopyFlags, out: Output, home: string): Promise<number> {
  const [action, keyId] = rest;
  if (action === undefined) {
    const keys = await api.invoke('keys.list', {});
    out.print(
      keys.length === 0
        ? 'no encrypted chains'
        : table([
            ['KEY', 'CREATED', 'VMS', 'REMEMBERED'],
            ...keys.map((key) => [key.keyId, key.createdAt, key.vms.join(', '), key.stored ? 'yes' : 'no']),
          ]),
      keys,
    );
    return 0;
  }
  if (!keyId) throw new UsageError(`keys ${action} takes a key id (\`lifeboat keys\` lists them)`);
  const { password, recoveryKey } = await sourceChoice(values);
  switch (action) {
    case 'export': {
      if (!password || !values.out) throw new UsageError('keys export takes: <key> --password-env VAR --out FILE');
      const file = await checkedOutFile(api, home, values.out);
      const { text } = await api.invoke('keys.recovery', { keyId, password });
      await writeFile(file, text, { mode: 0o600, flag: 'wx' }).catch((error: unknown) => {
        throw new UsageError(
          isErrnoCode(error, 'EEXIST')
            ? `${values.out} exists already; a recovery key is never written over a file`
            : `${values.out} cannot be written: ${(error as Error).message}`,
        );
      });
      out.print(`recovery key written to ${values.out}: keep it offline; with it the chain restores without the password`, {
        path: values.out,
      });
      return 0;
    }
    case 'remember': {
      const key = await api.invoke('keys.remember', { keyId, ...(password ? { password } : {}), ...(recoveryKey ? { recoveryKey } : {}) });
      out.print(`key ${key.keyId} is in the secret store: restores of ${key.vms.join(', ') || 'its chains'} need no password now`, key);
      return 0;
    }
    case 'forget': {
      const key = await api.invoke('keys.forget', { keyId });
      out.print(`key ${key.keyId} removed from the secret store: restores need the password again`, key);
      return 0;
    }
    case 'set-password': {
      const newPassword = passwordFrom(values['new-password-env'], '--new-password-env');
      if (!newPassword)
        throw new UsageError('keys set-password takes: <key> --recovery-key FILE | --password-env VAR, and --new-password-env VAR');
      const key = await api.invoke('keys.setPassword', {
        keyId,
        newPassword,
        ...(password ? { password } : {}),
        ...(recoveryKey ? { recoveryKey } : {}),
      });
      out.print(`key ${key.keyId} has a new password`, key);
      return 0;
    }
    default:
      throw new UsageError(
        'keys takes: export <key> --password-env VAR --out FILE | remember <key> (--password-env VAR | --recovery-key FILE) | forget <key> | set-password <key> …',
      );
  }
}
