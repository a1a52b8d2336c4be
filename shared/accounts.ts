// Who operators are: roles, accounts, the signed-in identity a connection carries, and the
// directory (LDAP) the engine may check passwords against. Shared by the engine and the consoles.
import { z } from 'zod';

/** In rising order: each role may do what the ones before it may. */
export const roles = ['viewer', 'operator', 'approver', 'administrator'] as const;
export const Role = z.enum(roles);
export type Role = z.infer<typeof Role>;

/** How an identity was proven: a local account's password, a directory bind, or being the OS
 * user that runs the engine (its 0600 socket, its own process). */
export const IdentitySource = z.enum(['local', 'directory', 'os']);
export type IdentitySource = z.infer<typeof IdentitySource>;

/** Names that are safe in a DN and a search filter without relying on escaping alone. */
export const AccountName = z
  .string()
  .min(1)
  .max(64)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._@-]*$/,
    'an account name is letters, digits, dot, dash, underscore and @, starting with a letter or digit',
  );

export const AccountPassword = z.string().min(1).max(1024);
/** A new local account's password: long enough to be worth hashing. */
export const NewAccountPassword = z.string().min(10, 'a password has at least 10 characters').max(1024);

export const Caller = z.object({ account: z.string(), role: Role, via: IdentitySource });
export type Caller = z.infer<typeof Caller>;

export const SignedIn = Caller.extend({ expiresAt: z.string().nullable() });
export type SignedIn = z.infer<typeof SignedIn>;

export const AccountSummary = z.object({ name: z.string(), role: Role, createdAt: z.string(), passwordChangedAt: z.string() });
export type AccountSummary = z.infer<typeof AccountSummary>;

/** A directory group and the role its members get; the highest role of a user's groups wins. */
export const RoleMapping = z.object({ group: z.string().min(1).max(500), role: Role });
export type RoleMapping = z.infer<typeof RoleMapping>;

export const DirectoryConfig = z.object({
  /** ldaps://host[:port] or ldap://host[:port] with startTls. */
  url: z
    .string()
    .max(2000)
    .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, 'a directory URL is ldaps://host[:port] or ldap://host[:port] (with StartTLS)'),
  startTls: z.boolean(),
  /** The DN a user binds as, with {user} where the name goes. */
  bindDnTemplate: z
    .string()
    .min(1)
    .max(500)
    .refine((template) => template.split('{user}').length === 2, 'the bind DN template holds {user} exactly once'),
  /** Where groups are searched (groupOfNames member, groupOfUniqueNames uniqueMember, posixGroup memberUid). */
  groupBase: z.string().min(1).max(500),
  roleMap: z.array(RoleMapping).min(1).max(100),
  /** The CA certificate(s) the directory's certificate must chain to (PEM); null: the system's. */
  caPem: z.string().max(200_000).nullable(),
});
export type DirectoryConfig = z.infer<typeof DirectoryConfig>;
