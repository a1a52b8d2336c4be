// SendTargets discovery (RFC 7143 §6.8 / Appendix C): a discovery session lists the targets a
// portal offers and their addresses, then logs out.
import { LifeboatError } from '../../../errors.ts';
import { IscsiConnection } from './connection.ts';
import { login, newIsid, type Chap } from './login.ts';
import { flagsOf, NO_TAG, Opcode, opcodeOf, word } from './pdu.ts';
import { logoutBhs, textBhs } from './requests.ts';
import { defaultInitiatorName } from './session.ts';
import { encodeTextKeys, parseTextKeys, type TextPairs } from './text.ts';

export type DiscoveredTarget = { name: string; addresses: string[] };

const CONTINUE = 0x40;
const MAX_PIECES = 64;

export async function discoverIscsiTargets(
  host: string,
  port: number,
  options: { chap?: Chap; signal?: AbortSignal; initiatorName?: string; timeoutMs?: number } = {},
): Promise<DiscoveredTarget[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connection = await IscsiConnection.open(host, port, timeoutMs, options.signal);
  const onAbort = (): void => connection.destroy(new LifeboatError('cancelled', `${connection.peer}: discovery was cancelled`));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const cmdSN = 1;
    const session = await login(connection, {
      initiatorName: options.initiatorName ?? defaultInitiatorName(),
      isid: newIsid(),
      cmdSN,
      timeoutMs,
      ...(options.chap ? { chap: options.chap } : {}),
    });
    let expStatSN = session.expStatSN;
    const itt = 1;
    const parts: Buffer[] = [];
    let ttt = NO_TAG;
    let request: Buffer = encodeTextKeys([['SendTargets', 'All']]);
    for (let piece = 0; ; piece += 1) {
      if (piece >= MAX_PIECES) throw new LifeboatError('unavailable', `${connection.peer}: the SendTargets answer did not end`);
      connection.send(textBhs(ttt, { itt, cmdSN, expStatSN }), request);
      const answer = await connection.receive(timeoutMs);
      if (opcodeOf(answer) !== Opcode.textResponse) {
        throw new LifeboatError(
          'unavailable',
          `${connection.peer}: the target answered SendTargets with opcode ${opcodeOf(answer).toString(16)}h`,
        );
      }
      expStatSN = (word(answer, 24) + 1) >>> 0;
      parts.push(answer.data);
      if ((flagsOf(answer) & CONTINUE) === 0) break;
      ttt = word(answer, 20);
      request = Buffer.alloc(0);
    }
    connection.send(logoutBhs({ itt: 2, cmdSN, expStatSN }));
    await connection.receive(timeoutMs).catch(() => undefined);
    return targetsOf(parseTextKeys(Buffer.concat(parts)));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    connection.destroy();
  }
}

/** TargetName starts a record; the TargetAddress keys after it (`host:port,tpgt`) belong to it. */
export function targetsOf(pairs: TextPairs): DiscoveredTarget[] {
  const targets: DiscoveredTarget[] = [];
  for (const [key, value] of pairs) {
    if (key === 'TargetName') targets.push({ name: value, addresses: [] });
    else if (key === 'TargetAddress') targets.at(-1)?.addresses.push(value);
  }
  return targets;
}
