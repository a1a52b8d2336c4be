// Local account passwords, stored as scrypt hashes: "scrypt$N$r$p$<salt b64>$<hash b64>". The
// parameters travel with each hash so they can be raised later without breaking old accounts.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { derive } from '../repository/chain-key.ts';

const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
// Bounds on what a stored hash may ask for (scrypt needs 128·N·r bytes), so a damaged catalog
// row cannot make a sign-in allocate more than 64 MiB.
const MAX_N_TIMES_R = 2 ** 19;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** False for a wrong password and for a stored value that is not a hash this code wrote. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  if (
    !parts.slice(1, 4).every((field) => /^[1-9]\d{0,7}$/.test(field)) ||
    !parts.slice(4).every((field) => /^[A-Za-z0-9+/]+={0,2}$/.test(field))
  )
    return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const powerOfTwo = Number.isInteger(N) && N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0;
  if (!powerOfTwo || !Number.isInteger(r) || r < 1 || N * r > MAX_N_TIMES_R || !Number.isInteger(p) || p < 1 || p > 4) return false;
  const salt = Buffer.from(parts[4] as string, 'base64');
  const expected = Buffer.from(parts[5] as string, 'base64');
  if (salt.length < 8 || expected.length !== 32) return false;
  const actual = await derive(password, salt, { N, r, p });
  return timingSafeEqual(actual, expected);
}

/** Spends the time a real check would, so an unknown name answers as slowly as a wrong password. */
let decoy: Promise<string> | null = null;
export async function burnPasswordCheck(password: string): Promise<void> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await decoy);
}
