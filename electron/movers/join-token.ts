// The one-time join token `movers add` prints: "lbm1." + base64url(JSON { m, s, ca }): the mover's
// id, a 32-byte random secret (the engine keeps only its SHA-256) and the SHA-256 of the engine's
// CA certificate, which the mover checks the listener's chain against before it sends the secret.
import { z } from 'zod';
import { LifeboatError } from '../errors.ts';

export const JOIN_TOKEN_PREFIX = 'lbm1.';
/** A token longer than this is not one of ours (a real one is about 240 characters). */
const MAX_TOKEN_LENGTH = 1024;

export type JoinToken = { moverId: string; secret: string; caFingerprint: string };

const TokenBody = z
  .object({
    m: z.string().regex(/^[0-9a-f-]{36}$/),
    s: z.string().regex(/^[A-Za-z0-9_-]{43}$/), // 32 bytes, base64url without padding
    ca: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();

const malformed = (why: string): LifeboatError =>
  new LifeboatError('bad-request', `the join token is malformed (${why}); copy it whole from \`lifeboat movers add\``);

export function formatJoinToken(token: JoinToken): string {
  const body = JSON.stringify({ m: token.moverId, s: token.secret, ca: token.caFingerprint });
  return JOIN_TOKEN_PREFIX + Buffer.from(body, 'utf8').toString('base64url');
}

/** The token's parts; 'bad-request' for anything that is not a token `formatJoinToken` makes. */
export function parseJoinToken(token: string): JoinToken {
  if (token.length > MAX_TOKEN_LENGTH) throw malformed(`${token.length} characters`);
  if (!token.startsWith(JOIN_TOKEN_PREFIX)) throw malformed(`it does not begin with ${JOIN_TOKEN_PREFIX}`);
  const encoded = token.slice(JOIN_TOKEN_PREFIX.length);
  // Node's base64url decoder skips characters it does not know: check the alphabet first.
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw malformed('not base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw malformed('not JSON inside');
  }
  const checked = TokenBody.safeParse(parsed);
  if (!checked.success) throw malformed(`its ${checked.error.issues[0]?.path.join('.') || 'body'} is not what a token holds`);
  return { moverId: checked.data.m, secret: checked.data.s, caFingerprint: checked.data.ca };
}
