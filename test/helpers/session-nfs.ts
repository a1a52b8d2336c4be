// An Instant Recovery session's files as a host reads them: libnfs's command-line tools (nfs-ls,
// nfs-cat, nfs-cp) against the session's export.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import type { InstantSession } from '../../shared/domain.ts';

const run = promisify(execFile);
const MIB = 1024 * 1024;

/** Runs a libnfs tool; its failure says the tool's own words. */
export async function libnfs(tool: string, ...args: string[]): Promise<Buffer> {
  const { stdout } = await run(tool, args, { encoding: 'buffer', timeout: 60_000, maxBuffer: 64 * MIB }).catch(
    (error: { stderr?: Buffer; message: string }) => {
      throw new Error(`${tool} ${args.join(' ')}: ${error.stderr?.toString() ?? error.message}`);
    },
  );
  return stdout;
}

/** An nfs:// URL of a file in the session's VM folder (the folder itself for ''). */
export function sessionFileUrl(session: InstantSession, file: string): string {
  const url = new URL(session.nfsUrl);
  return `nfs://${url.host}${url.pathname}/${session.vmName}${file ? `/${file}` : ''}${url.search}`;
}

/** The SHA-256 of the session's flat disk, read whole by nfs-cat. */
export async function sessionDiskSha256(session: InstantSession): Promise<string> {
  const disk = await libnfs('nfs-cat', sessionFileUrl(session, `${session.vmName}-flat.vmdk`));
  return createHash('sha256').update(disk).digest('hex');
}
