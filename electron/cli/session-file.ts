// The CLI's sign-in between commands: <home>/sessions/<os-user>.json, mode 0600 in a 0700 folder,
// holding the session token the engine issued (never the password). A file that is not the OS
// user's own, is readable by others, or does not parse is refused rather than trusted.
import { lstat, mkdir, open, rename, rm, readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SignedIn } from '../../shared/accounts.ts';
import { LifeboatError, isErrnoCode } from '../errors.ts';

export const SessionFile = z
  .object({ format: z.literal('lifeboat-cli-session'), token: z.string().min(1).max(200), identity: SignedIn })
  .strict();
export type SessionFile = z.infer<typeof SessionFile>;

export function sessionPath(home: string): string {
  return join(home, 'sessions', `${userInfo().username.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
}

/** The saved session's text, parsed; one clear error for a damaged file. */
export function parseSessionFile(text: string, path: string): SessionFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LifeboatError('bad-request', `${path} is not a Lifeboat session file; \`lifeboat logout\` removes it`);
  }
  const parsed = SessionFile.safeParse(json);
  if (!parsed.success) throw new LifeboatError('bad-request', `${path} is not a Lifeboat session file; \`lifeboat logout\` removes it`);
  return parsed.data;
}

export async function readSession(home: string): Promise<SessionFile | null> {
  const path = sessionPath(home);
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
  if (!stats.isFile()) throw new LifeboatError('bad-request', `${path} is not a plain file; remove it and sign in again`);
  if (stats.uid !== process.getuid?.() || (stats.mode & 0o077) !== 0) {
    throw new LifeboatError(
      'unauthorized',
      `${path} is readable by others or not yours, so its sign-in is not trusted; \`lifeboat logout\` removes it`,
    );
  }
  return parseSessionFile(await readFile(path, 'utf8'), path);
}

/** Written beside, then renamed: the token is never in a file with a looser mode. */
export async function writeSession(home: string, session: SessionFile): Promise<string> {
  const path = sessionPath(home);
  await mkdir(join(home, 'sessions'), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(session)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  return path;
}

export async function removeSession(home: string): Promise<boolean> {
  const path = sessionPath(home);
  try {
    await rm(path);
    return true;
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return false;
    throw error;
  }
}
