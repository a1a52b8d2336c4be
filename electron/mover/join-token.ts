// What a mover reads of its join token: the fingerprint of the engine's CA it pins at join. The
// token is "lbm1." + base64url(JSON { m: mover id, s: secret, ca: sha256 hex of the CA's DER });
// the engine checks the rest.
import { z } from 'zod';
import { LifeboatError } from '../errors.ts';

const TOKEN_PREFIX = 'lbm1.';
const TokenBody = z.object({ m: z.string().min(1), s: z.string().min(1), ca: z.string().regex(/^[0-9a-f]{64}$/) });

export function pinnedCaFingerprint(token: string): string {
  const body = token.startsWith(TOKEN_PREFIX) ? token.slice(TOKEN_PREFIX.length) : null;
  let parsed: unknown = null;
  try {
    if (body !== null && /^[A-Za-z0-9_-]+$/.test(body)) parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  const checked = TokenBody.safeParse(parsed);
  if (!checked.success)
    throw new LifeboatError('bad-request', 'the --token is not a join token of `lifeboat movers add` (it starts with lbm1.)');
  return checked.data.ca;
}
