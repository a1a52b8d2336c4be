// Sign-in from the command line: `login` trades a password for a session token kept in the
// session file, every later command resumes it; `accounts` and `directory` are for administrators.
import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import type { Role } from '../../shared/accounts.ts';
import { roles } from '../../shared/accounts.ts';
import type { LifeboatApi } from '../../shared/contract.ts';
import { table } from '../../shared/format.ts';
import { parseRoleMap } from '../auth/role-map.ts';
import { UsageError, type Output } from './cli-output.ts';
import { passwordFrom } from './copy-commands.ts';
import { readSession, removeSession, writeSession } from './session-file.ts';

export type AuthFlags = {
  user?: string | undefined;
  'password-env'?: string | undefined;
  role?: string | undefined;
  url?: string | undefined;
  starttls?: boolean | undefined;
  'bind-dn-template'?: string | undefined;
  'group-base'?: string | undefined;
  'role-map'?: string | undefined;
  'ca-file'?: string | undefined;
};

/** Signs this command's connection in with the saved session, if there is one. */
export async function resumeSession(api: LifeboatApi, home: string): Promise<void> {
  const session = await readSession(home);
  if (session) await api.invoke('auth.resume', { token: session.token });
}

/** The password from --password-env, else typed at the terminal without echo. */
async function askPassword(values: AuthFlags): Promise<string> {
  const fromEnv = passwordFrom(values['password-env'], '--password-env');
  if (fromEnv !== undefined) return fromEnv;
  if (!process.stdin.isTTY) throw new UsageError('login needs --password-env VAR when not run at a terminal');
  const prompt = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const muted = prompt as unknown as { _writeToOutput: (text: string) => void };
  process.stderr.write('password: ');
  muted._writeToOutput = () => undefined;
  try {
    return await new Promise<string>((resolve) => prompt.question('', resolve));
  } finally {
    prompt.close();
    process.stderr.write('\n');
  }
}

export async function loginCommand(api: LifeboatApi, home: string, values: AuthFlags, out: Output): Promise<number> {
  const user = values.user ?? userInfo().username;
  const { token, identity } = await api.invoke('auth.login', { user, password: await askPassword(values) });
  const path = await writeSession(home, { format: 'lifeboat-cli-session', token, identity });
  out.print(
    `signed in as ${identity.account} (${identity.via}, ${identity.role}) until ${identity.expiresAt ?? 'the engine stops'}; session in ${path}`,
    identity,
  );
  return 0;
}

export async function logoutCommand(api: LifeboatApi, home: string, out: Output): Promise<number> {
  // A damaged or ended session is still removed: logout is the way out of either.
  const session = await readSession(home).catch(() => null);
  if (session)
    await api.invoke('auth.resume', { token: session.token }).then(
      () => api.invoke('auth.logout', {}),
      () => undefined,
    );
  const removed = await removeSession(home);
  out.print(removed ? 'signed out' : 'not signed in', { signedOut: removed });
  return 0;
}

export async function whoamiCommand(api: LifeboatApi, out: Output): Promise<number> {
  const identity = await api.invoke('auth.whoami', {});
  out.print(
    identity
      ? `${identity.account} (${identity.via}, ${identity.role})${identity.expiresAt ? ` until ${identity.expiresAt}` : ''}`
      : 'not signed in',
    identity,
  );
  return 0;
}

function role(values: AuthFlags, command: string): Role {
  const value = values.role;
  if (!value || !(roles as readonly string[]).includes(value)) throw new UsageError(`${command} needs --role ${roles.join('|')}`);
  return value as Role;
}

function newPassword(values: AuthFlags, command: string): string {
  const password = passwordFrom(values['password-env'], '--password-env');
  if (password === undefined) throw new UsageError(`${command} needs --password-env VAR (the password in that environment variable)`);
  return password;
}

export async function accountsCommand(api: LifeboatApi, rest: string[], values: AuthFlags, out: Output): Promise<number> {
  const [action, name] = rest;
  if (action === undefined || action === 'list') {
    const accounts = await api.invoke('accounts.list', {});
    out.print(
      accounts.length === 0
        ? 'no local accounts: `lifeboat accounts add <name> --role R --password-env VAR`'
        : table([
            ['NAME', 'ROLE', 'CREATED', 'PASSWORD CHANGED'],
            ...accounts.map((account) => [account.name, account.role, account.createdAt, account.passwordChangedAt]),
          ]),
      accounts,
    );
    return 0;
  }
  if (!name) throw new UsageError(`accounts ${action} takes an account name`);
  switch (action) {
    case 'add': {
      const account = await api.invoke('accounts.add', {
        name,
        role: role(values, 'accounts add'),
        password: newPassword(values, 'accounts add'),
      });
      out.print(`account ${account.name} added (${account.role})`, account);
      return 0;
    }
    case 'remove':
      out.print(`account ${name} removed; its sessions have ended`, await api.invoke('accounts.remove', { name }));
      return 0;
    case 'set-role': {
      const account = await api.invoke('accounts.setRole', { name, role: role(values, 'accounts set-role') });
      out.print(`${account.name} is now ${account.role}`, account);
      return 0;
    }
    case 'set-password': {
      const account = await api.invoke('accounts.setPassword', { name, password: newPassword(values, 'accounts set-password') });
      out.print(`password of ${account.name} changed; its sessions have ended`, account);
      return 0;
    }
    default:
      throw new UsageError('accounts takes: list | add <name> | remove <name> | set-role <name> | set-password <name>');
  }
}

export async function directoryCommand(api: LifeboatApi, rest: string[], values: AuthFlags, out: Output): Promise<number> {
  const [action] = rest;
  if (action === undefined) {
    const directory = await api.invoke('directory.get', {});
    out.print(
      directory
        ? `${directory.url}${directory.startTls ? ' (StartTLS)' : ''}\nbind DN: ${directory.bindDnTemplate}\ngroups under: ${directory.groupBase}\nroles: ${directory.roleMap.map((mapping) => `${mapping.group}=${mapping.role}`).join(', ')}\nCA: ${directory.caPem ? 'from --ca-file' : "the system's"}`
        : 'no directory: only local accounts sign in',
      directory,
    );
    return 0;
  }
  if (action === 'off') {
    await api.invoke('directory.set', { directory: null });
    out.print('directory sign-in is off; directory sessions have ended', { directory: null });
    return 0;
  }
  if (action !== 'set') throw new UsageError('directory takes: set … | off');
  if (!values.url || !values['bind-dn-template'] || !values['group-base'] || !values['role-map']) {
    throw new UsageError(
      "directory set needs --url, --bind-dn-template 'uid={user},ou=people,dc=…', --group-base DN and --role-map 'GROUP=ROLE,…'",
    );
  }
  const caPem = values['ca-file'] === undefined ? null : await readFile(values['ca-file'], 'utf8');
  if (caPem !== null && !caPem.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`${values['ca-file']} holds no PEM certificate`);
  const directory = await api.invoke('directory.set', {
    directory: {
      url: values.url,
      startTls: values.starttls ?? false,
      bindDnTemplate: values['bind-dn-template'],
      groupBase: values['group-base'],
      roleMap: parseRoleMap(values['role-map']),
      caPem,
    },
  });
  out.print(`directory sign-in through ${directory?.url ?? values.url} is on`, directory);
  return 0;
}
