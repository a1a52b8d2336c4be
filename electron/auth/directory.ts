// Directory sign-in: a simple bind as the user over TLS (ldaps://, or ldap:// upgraded with
// StartTLS before the password is sent), then a search for the groups that list the user
// (groupOfNames member, groupOfUniqueNames uniqueMember, posixGroup memberUid, and the user's own
// memberOf when the directory keeps it), mapped to the highest role the mapping gives them.
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { roles, type DirectoryConfig, type Role } from '../../shared/accounts.ts';
import { LifeboatError } from '../errors.ts';
import { mappingMatches } from './role-map.ts';

const TIMEOUT_MS = 10_000;

/** Plain ldap:// would carry the password in clear: it must be upgraded with StartTLS. */
export function checkDirectoryTransport(config: Pick<DirectoryConfig, 'url' | 'startTls'>): void {
  const secure = config.url.toLowerCase().startsWith('ldaps://');
  if (!secure && !config.startTls)
    throw new LifeboatError('bad-request', `${config.url} would send passwords in clear: use ldaps://, or ldap:// with --starttls`);
  if (secure && config.startTls) throw new LifeboatError('bad-request', 'ldaps:// is TLS already: drop --starttls');
}

/** RFC 4514: the characters a DN attribute value must escape. Account names are restricted to
 * letters, digits and ._@- already; this keeps the DN right whatever the rule becomes. */
function escapeDnValue(value: string): string {
  return value.replace(/[,=+<>#;\\"]/g, (character) => `\\${character}`).replace(/^ | $/g, (space) => `\\${space}`);
}

function tlsOptions(config: DirectoryConfig): ConnectionOptions {
  const host = new URL(config.url).hostname.replace(/^\[|\]$/g, '');
  return {
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    ...(config.caPem ? { ca: config.caPem } : {}),
    ...(isIP(host) ? {} : { servername: host }),
  };
}

function unreachable(config: DirectoryConfig, error: unknown): LifeboatError {
  const text = error instanceof Error ? error.message : String(error);
  const code = typeof error === 'object' && error !== null ? String((error as { code?: unknown }).code ?? '') : '';
  if (/certificate|self.signed|CERT|unable to verify|altname/i.test(`${code} ${text}`)) {
    return new LifeboatError(
      'unavailable',
      `the directory at ${config.url} is not trusted: its certificate does not chain to the configured CA (${text})`,
      { cause: error },
    );
  }
  return new LifeboatError('unavailable', `the directory at ${config.url} does not answer (${text || code})`, { cause: error });
}

type GroupEntry = { dn: string; cn: string[] };

function strings(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((item) => (Buffer.isBuffer(item) ? item.toString('utf8') : String(item)));
  if (value === undefined || value === null) return [];
  return [Buffer.isBuffer(value) ? value.toString('utf8') : String(value)];
}

/** The user's role from the directory; one clear error for a wrong password, an unknown user,
 * no mapped group, a directory that does not answer, or one whose certificate is not trusted. */
export async function directorySignIn(config: DirectoryConfig, user: string, password: string): Promise<Role> {
  checkDirectoryTransport(config);
  // An empty simple bind is an anonymous bind that succeeds: never let it stand for a password.
  if (password.length === 0) throw new LifeboatError('unauthorized', 'wrong user name or password');
  // Loaded here, on the first directory sign-in: every CLI command resumes a sign-in, few bind.
  const { Client, InvalidCredentialsError, ResultCodeError, escapeFilter } = await import('ldapts');
  const tls = tlsOptions(config);
  const client = new Client({
    url: config.url,
    timeout: TIMEOUT_MS,
    connectTimeout: TIMEOUT_MS,
    ...(config.startTls ? {} : { tlsOptions: tls }),
  });
  const userDn = config.bindDnTemplate.replace('{user}', escapeDnValue(user));
  try {
    try {
      if (config.startTls) await client.startTLS(tls);
      await client.bind(userDn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError) throw new LifeboatError('unauthorized', 'wrong user name or password');
      throw unreachable(config, error);
    }
    const groups: GroupEntry[] = [];
    try {
      const found = await client.search(config.groupBase, {
        scope: 'sub',
        filter: escapeFilter`(|(member=${userDn})(uniqueMember=${userDn})(memberUid=${user}))`,
        attributes: ['cn'],
      });
      for (const entry of found.searchEntries) groups.push({ dn: entry.dn, cn: strings(entry['cn']) });
      const self = await client.search(userDn, { scope: 'base', filter: '(objectClass=*)', attributes: ['memberOf'] });
      for (const dn of self.searchEntries.flatMap((entry) => strings(entry['memberOf']))) groups.push({ dn, cn: [] });
    } catch (error) {
      if (error instanceof ResultCodeError)
        throw new LifeboatError('unavailable', `the directory refused the group search under ${config.groupBase} (${error.message})`, {
          cause: error,
        });
      throw unreachable(config, error);
    }
    let best = -1;
    for (const mapping of config.roleMap) {
      if (groups.some((group) => mappingMatches(mapping, group))) best = Math.max(best, roles.indexOf(mapping.role));
    }
    if (best < 0)
      throw new LifeboatError(
        'unauthorized',
        `${user} is in no directory group mapped to a Lifeboat role; ask an administrator to map one of their groups`,
      );
    return roles[best] as Role;
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
