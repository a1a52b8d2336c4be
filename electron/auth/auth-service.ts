// Sign-in: local accounts (scrypt hashes in the catalog) and, when configured, the directory.
// A sign-in issues a random session token; the catalog keeps only its SHA-256, so a copy of the
// catalog signs nobody in. Every change is written to the audit log under the caller's identity.
import { createHash, randomBytes } from 'node:crypto';
import { DirectoryConfig, type AccountSummary, type Caller, type Role, type SignedIn } from '../../shared/accounts.ts';
import type { AccountCatalog } from '../catalog/account-catalog.ts';
import { LifeboatError } from '../errors.ts';
import { checkDirectoryTransport, directorySignIn } from './directory.ts';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.ts';
import { identityLabel } from './roles.ts';
import type { Peer } from './peer.ts';

export const SESSION_HOURS = 12;
const WRONG = 'wrong user name or password';
/** Password guessing: after this many wrong passwords in a row a name rests for a while (per engine). */
const FAILURES_BEFORE_REST = 5;
const REST_MS = 60_000;
const MAX_TRACKED_NAMES = 10_000;

export type AuthDeps = {
  accounts: AccountCatalog;
  audit: (actor: string, action: string, subject: string | null, details: unknown) => void;
  /** Directory sign-in; a parameter so the service can be built without a network in reach. */
  signInToDirectory?: typeof directorySignIn;
  now?: () => Date;
};

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class AuthService {
  private readonly deps: AuthDeps;
  /** Wrong passwords in a row per name (lower case), and when the name may try again. */
  private readonly failures = new Map<string, { count: number; restUntil: number }>();

  constructor(deps: AuthDeps) {
    this.deps = deps;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** A local account's password, else the directory's bind: a local account of that name is the
   * only way in for that name (the directory is not asked when its password is wrong). */
  async login(user: string, password: string): Promise<{ token: string; identity: SignedIn }> {
    let proven: { role: Role; via: 'local' | 'directory'; account: string };
    const key = user.toLowerCase();
    try {
      this.checkRest(key);
      proven = await this.prove(user, password);
      this.failures.delete(key);
    } catch (error) {
      const reason = error instanceof LifeboatError ? error.message : 'internal error';
      if (error instanceof LifeboatError && error.message === WRONG) this.countFailure(key);
      this.deps.audit('anonymous', 'auth.refused', user, { reason });
      throw error;
    }
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(this.now().getTime() + SESSION_HOURS * 3600_000).toISOString();
    this.deps.accounts.addSession(tokenHash(token), proven, expiresAt);
    const identity: SignedIn = { ...proven, expiresAt };
    this.deps.audit(identityLabel(identity), 'auth.login', proven.account, { via: proven.via, role: proven.role, expiresAt });
    return { token, identity };
  }

  private checkRest(key: string): void {
    const restUntil = this.failures.get(key)?.restUntil ?? 0;
    const left = restUntil - this.now().getTime();
    if (left > 0) throw new LifeboatError('unauthorized', `too many wrong passwords for ${key}; try again in ${Math.ceil(left / 1000)} s`);
  }

  private countFailure(key: string): void {
    if (this.failures.size >= MAX_TRACKED_NAMES && !this.failures.has(key)) this.failures.clear();
    const count = (this.failures.get(key)?.count ?? 0) + 1;
    const rests = count >= FAILURES_BEFORE_REST;
    this.failures.set(key, { count: rests ? 0 : count, restUntil: rests ? this.now().getTime() + REST_MS : 0 });
  }

  private async prove(user: string, password: string): Promise<{ role: Role; via: 'local' | 'directory'; account: string }> {
    const local = this.deps.accounts.find(user);
    if (local) {
      if (!(await verifyPassword(password, local.passwordHash))) throw new LifeboatError('unauthorized', WRONG);
      return { role: local.role, via: 'local', account: local.name };
    }
    const directory = this.directory();
    if (!directory) {
      await burnPasswordCheck(password);
      throw new LifeboatError('unauthorized', WRONG);
    }
    const role = await (this.deps.signInToDirectory ?? directorySignIn)(directory, user, password);
    return { role, via: 'directory', account: user };
  }

  /** The identity a token stands for now; one error for an unknown, expired or revoked token. */
  resume(token: string): SignedIn {
    const identity = this.deps.accounts.session(tokenHash(token), this.now());
    if (!identity)
      throw new LifeboatError('unauthorized', 'your sign-in has ended (expired, signed out, or its account was changed); sign in again');
    return identity;
  }

  logout(token: string): boolean {
    return this.deps.accounts.removeSession(tokenHash(token));
  }

  /** Who is calling on this connection; a token that no longer stands for anyone is refused,
   * never quietly replaced by the connection's unsigned identity. */
  callerOf(connection: Peer): Caller | null {
    if (connection.token === null) return connection.unsignedCaller;
    const { account, role, via } = this.resume(connection.token);
    return { account, role, via };
  }

  signIn(connection: Peer, token: string): void {
    connection.token = token;
  }

  /** May engine events go to this connection? Only to someone known now: a sign-in that ended
   * anywhere (expired, signed out, its account removed or changed) stops them at once. */
  mayHearEvents(connection: Peer): boolean {
    try {
      return this.callerOf(connection) !== null;
    } catch {
      return false;
    }
  }

  listAccounts(): AccountSummary[] {
    return this.deps.accounts.list();
  }

  private existing(name: string): AccountSummary {
    const account = this.deps.accounts.find(name);
    if (!account) throw new LifeboatError('not-found', `no account "${name}"; \`lifeboat accounts list\` lists them`);
    const { passwordHash: _hash, ...summary } = account;
    return summary;
  }

  async addAccount(name: string, role: Role, password: string, by: Caller): Promise<AccountSummary> {
    if (this.deps.accounts.find(name)) throw new LifeboatError('conflict', `an account named "${name}" already exists`);
    const added = this.deps.accounts.add(name, role, await hashPassword(password));
    this.deps.audit(identityLabel(by), 'accounts.add', name, { role });
    return added;
  }

  removeAccount(name: string, by: Caller): void {
    const account = this.existing(name);
    this.deps.accounts.remove(account.name);
    this.deps.audit(identityLabel(by), 'accounts.remove', account.name, { role: account.role });
  }

  setRole(name: string, role: Role, by: Caller): AccountSummary {
    const account = this.existing(name);
    this.deps.accounts.setRole(account.name, role);
    this.deps.audit(identityLabel(by), 'accounts.setRole', account.name, { before: account.role, after: role });
    return { ...account, role };
  }

  async setPassword(name: string, password: string, by: Caller): Promise<AccountSummary> {
    const account = this.existing(name);
    this.deps.accounts.setPassword(account.name, await hashPassword(password));
    this.deps.audit(identityLabel(by), 'accounts.setPassword', account.name, {});
    return this.existing(name);
  }

  directory(): DirectoryConfig | null {
    const stored = this.deps.accounts.directory();
    if (stored === null) return null;
    const parsed = DirectoryConfig.safeParse(JSON.parse(stored));
    if (!parsed.success)
      throw new LifeboatError('internal', 'the stored directory settings are damaged; set them again with `lifeboat directory set`');
    return parsed.data;
  }

  setDirectory(config: DirectoryConfig | null, by: Caller): DirectoryConfig | null {
    if (config) checkDirectoryTransport(config);
    this.deps.accounts.setDirectory(config);
    const { caPem, ...audited } = config ?? { caPem: null };
    this.deps.audit(identityLabel(by), 'directory.set', null, config ? { ...audited, caPem: caPem ? 'set' : 'system' } : { off: true });
    return config;
  }
}
