// `lifeboat sessions`: the console session keys of the engine that serves this home, and their
// revocation (the browser holding one is signed out at once).
import type { LifeboatApi } from '../../shared/contract.ts';
import { table } from '../../shared/format.ts';
import { UsageError, type Output } from './cli-output.ts';

export async function sessionsCommand(api: LifeboatApi, rest: string[], all: boolean, out: Output): Promise<number> {
  if (rest[0] === 'revoke') {
    const id = rest[1];
    if ((id === undefined) === !all) throw new UsageError('sessions revoke takes a session id, or --all');
    const { revoked } = await api.invoke('sessions.revoke', id === undefined ? { all: true } : { id });
    out.print(id === undefined ? `${revoked} session(s) revoked` : `session ${id} revoked`, { revoked });
    return 0;
  }
  if (rest.length > 0) throw new UsageError('sessions takes: [revoke <id> | revoke --all]');
  const sessions = await api.invoke('sessions.list', {});
  out.print(
    sessions.length === 0
      ? 'no console sessions (`lifeboat serve` prints a URL that starts one)'
      : table([
          ['ID', 'WHO', 'STARTED', 'LAST USED', 'ENDS'],
          ...sessions.map((session) => [
            session.id,
            session.identity ?? '(console URL)',
            session.createdAt,
            session.lastUsedAt,
            session.expiresAt,
          ]),
        ]),
    sessions,
  );
  return 0;
}
