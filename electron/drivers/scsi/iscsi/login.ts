// The login phase (RFC 7143 §6.3): the security stage (AuthMethod None, or one-way CHAP-MD5), then
// operational negotiation, then full feature phase. A refused login becomes the LifeboatError an
// operator can act on: wrong secret → 'unauthorized', no such target → 'not-found'.
import { randomBytes } from 'node:crypto';
import { LifeboatError } from '../../../errors.ts';
import { CHAP_MD5, chapResponse, decodeChapBinary, encodeChapBinary, parseChapIdentifier } from './chap.ts';
import type { IscsiConnection } from './connection.ts';
import { Negotiation, type SessionParams } from './params.ts';
import { flagsOf, IMMEDIATE, newBhs, Opcode, opcodeOf, word, type Pdu } from './pdu.ts';
import { encodeTextKeys, parseTextKeys, valueOf, type TextPairs } from './text.ts';

/** One-way CHAP; with `target`, mutual: the target must answer our challenge with that user and secret. */
export type Chap = { user: string; secret: string; target?: { user: string; secret: string } };
type Challenge = { identifier: number; challenge: Buffer };

export type LoginOptions = {
  initiatorName: string;
  /** Absent for a discovery session. */
  targetName?: string;
  /** The session's initiator part: the same on every reconnect, so the target reinstates the session. */
  isid: Buffer;
  chap?: Chap;
  /** The CmdSN the first command after login carries. */
  cmdSN: number;
  timeoutMs: number;
  /** Offer CRC32C digests first (they are accepted either way when the target wants them). */
  preferDigests?: boolean;
};

export type LoginResult = { tsih: number; params: SessionParams; expStatSN: number; expCmdSN: number; maxCmdSN: number };

const TRANSIT = 0x80;
const CONTINUE = 0x40;
const SECURITY = 0;
const OPERATIONAL = 1;
const FULL_FEATURE = 3;
const MAX_ROUNDS = 16;

/** A random-format ISID (type 10b): one per session object, kept across reconnects. */
export function newIsid(): Buffer {
  const isid = randomBytes(6);
  isid[0] = 0x80;
  return isid;
}

/** What a login status means to the operator (RFC 7143 §11.13.5). */
export function loginRefusal(peer: string, what: string, statusClass: number, detail: number, redirect?: string): LifeboatError {
  const code = (statusClass << 8) | detail;
  const hex = `status ${statusClass.toString(16).padStart(2, '0')}${detail.toString(16).padStart(2, '0')}h`;
  if (statusClass === 1)
    return new LifeboatError(
      'unavailable',
      `${peer}: ${what} moved${redirect ? ` to ${redirect}` : ''}; Lifeboat does not follow redirects (${hex})`,
    );
  switch (code) {
    case 0x0201:
      return new LifeboatError(
        'unauthorized',
        `${peer}: the iSCSI target refused the login to ${what}: authentication failed (wrong CHAP user or secret, or CHAP required) (${hex})`,
      );
    case 0x0202:
      return new LifeboatError('unauthorized', `${peer}: this initiator is not allowed to log in to ${what} (${hex})`);
    case 0x0203:
    case 0x0204:
      return new LifeboatError('not-found', `${peer}: the iSCSI target has no ${what} (${hex})`);
    default:
      if (statusClass === 3)
        return new LifeboatError(
          'unavailable',
          `${peer}: the iSCSI target could not log in to ${what} (target error, ${hex}); try again later`,
        );
      return new LifeboatError('unavailable', `${peer}: the iSCSI target refused the login to ${what} (${hex})`);
  }
}

type Stage = { csg: number; transit: boolean; keys: TextPairs };

/** Logs in on a fresh connection; throws the refusal as a LifeboatError. */
export async function login(connection: IscsiConnection, options: LoginOptions): Promise<LoginResult> {
  const peer = connection.peer;
  const what = options.targetName ? `target ${options.targetName}` : 'discovery session';
  const negotiation = new Negotiation(peer, options.targetName === undefined, options.preferDigests ?? false);
  const itt = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  let expStatSN = 0;
  let tsih = 0;
  const first: TextPairs = [
    ['InitiatorName', options.initiatorName],
    ['SessionType', options.targetName ? 'Normal' : 'Discovery'],
  ];
  if (options.targetName) first.push(['TargetName', options.targetName]);
  first.push(['AuthMethod', options.chap ? 'CHAP,None' : 'None']);
  let stage: Stage = { csg: SECURITY, transit: !options.chap, keys: first };
  let chapStarted = false;
  let ours: Challenge | null = null;

  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const nsg = stage.csg === SECURITY ? OPERATIONAL : FULL_FEATURE;
    const { response, pairs } = await exchange(connection, options, itt, stage, nsg, expStatSN, options.timeoutMs);
    expStatSN = (word(response, 24) + 1) >>> 0;
    tsih = response.bhs.readUInt16BE(14);
    const statusClass = response.bhs[36] as number;
    if (statusClass !== 0) throw loginRefusal(peer, what, statusClass, response.bhs[37] as number, valueOf(pairs, 'TargetAddress'));
    const flags = flagsOf(response);
    const transited = (flags & TRANSIT) !== 0;
    const next = flags & 0x03;

    let keys: TextPairs = [];
    let transit = true;
    if (ours && options.chap?.target) {
      checkTargetProof(peer, pairs, options.chap.target, ours);
      ours = null;
    }
    if (stage.csg === SECURITY) {
      const method = valueOf(pairs, 'AuthMethod');
      if (method === 'CHAP' && !chapStarted) {
        if (!options.chap)
          throw new LifeboatError('unauthorized', `${peer}: the iSCSI target requires CHAP for ${what}; give a CHAP user and secret`);
        chapStarted = true;
        keys = [['CHAP_A', CHAP_MD5]];
        transit = false;
      } else if (valueOf(pairs, 'CHAP_C') !== undefined && options.chap) {
        keys = chapAnswer(peer, pairs, options.chap);
        if (options.chap.target) {
          ours = { identifier: randomBytes(1)[0] as number, challenge: randomBytes(16) };
          keys.push(['CHAP_I', String(ours.identifier)], ['CHAP_C', encodeChapBinary(ours.challenge)]);
        }
      } else if (method !== undefined && method !== 'None' && method !== 'CHAP') {
        throw new LifeboatError(
          'unauthorized',
          `${peer}: the iSCSI target wants authentication by ${method.slice(0, 40)}, which Lifeboat does not speak`,
        );
      }
    } else {
      keys = negotiation.absorb(pairs);
    }

    if (transited && next === FULL_FEATURE) {
      if (keys.length > 0)
        throw new LifeboatError(
          'unavailable',
          `${peer}: the iSCSI target ended the login before negotiating ${keys.map(([key]) => key).join(', ')}`,
        );
      const params = negotiation.finish();
      connection.useDigests({ header: params.headerDigest, data: params.dataDigest });
      return { tsih, params, expStatSN, expCmdSN: word(response, 28), maxCmdSN: word(response, 32) };
    }
    if (transited && next === OPERATIONAL && stage.csg === SECURITY)
      stage = { csg: OPERATIONAL, transit: true, keys: negotiation.offers() };
    else stage = { csg: stage.csg, transit, keys };
  }
  throw new LifeboatError('unavailable', `${peer}: the login to ${what} did not finish after ${MAX_ROUNDS} exchanges`);
}

function chapAnswer(peer: string, pairs: TextPairs, chap: Chap): TextPairs {
  const algorithm = valueOf(pairs, 'CHAP_A');
  if (algorithm !== CHAP_MD5)
    throw new LifeboatError(
      'unauthorized',
      `${peer}: the iSCSI target wants CHAP algorithm ${algorithm ?? '(none)'}; Lifeboat speaks MD5 (5) only`,
    );
  const identifier = parseChapIdentifier(valueOf(pairs, 'CHAP_I') ?? '');
  const challenge = decodeChapBinary(valueOf(pairs, 'CHAP_C') ?? '');
  return [
    ['CHAP_N', chap.user],
    ['CHAP_R', encodeChapBinary(chapResponse(identifier, chap.secret, challenge))],
  ];
}

/** Mutual CHAP: the target's CHAP_N and CHAP_R must answer our challenge with the secret we expect. */
function checkTargetProof(peer: string, pairs: TextPairs, target: { user: string; secret: string }, ours: Challenge): void {
  const name = valueOf(pairs, 'CHAP_N');
  const response = valueOf(pairs, 'CHAP_R');
  const expected = chapResponse(ours.identifier, target.secret, ours.challenge);
  if (name !== target.user || response === undefined || !decodeChapBinary(response).equals(expected)) {
    throw new LifeboatError(
      'unauthorized',
      `${peer}: the iSCSI target did not prove it knows the mutual CHAP secret of "${target.user}"${name === undefined ? ' (it sent no answer)' : ''}`,
    );
  }
}

/** One Login Request (its keys may span PDUs) and the whole answer (the target's may too). */
async function exchange(
  connection: IscsiConnection,
  options: LoginOptions,
  itt: number,
  stage: Stage,
  nsg: number,
  expStatSN: number,
  timeoutMs: number,
): Promise<{ response: Pdu; pairs: TextPairs }> {
  const request = (flags: number, data: Uint8Array, statSN: number): void => {
    const bhs = newBhs(Opcode.loginRequest | IMMEDIATE, flags | (stage.csg << 2) | (flags & TRANSIT ? nsg : 0));
    options.isid.copy(bhs, 8, 0, 6);
    bhs.writeUInt32BE(itt, 16);
    bhs.writeUInt32BE(options.cmdSN >>> 0, 24);
    bhs.writeUInt32BE(statSN >>> 0, 28);
    connection.send(bhs, data);
  };
  request(stage.transit ? TRANSIT : 0, encodeTextKeys(stage.keys), expStatSN);
  const parts: Buffer[] = [];
  for (let piece = 0; piece < MAX_ROUNDS * 4; piece += 1) {
    const response = await connection.receive(timeoutMs);
    if (opcodeOf(response) !== Opcode.loginResponse) {
      throw new LifeboatError(
        'unavailable',
        `${connection.peer}: the iSCSI target answered a login with opcode ${opcodeOf(response).toString(16)}h`,
      );
    }
    parts.push(response.data);
    if ((flagsOf(response) & CONTINUE) === 0 || (response.bhs[36] as number) !== 0)
      return { response, pairs: parseTextKeys(Buffer.concat(parts)) };
    request(0, Buffer.alloc(0), (word(response, 24) + 1) >>> 0); // ask for the rest of the target's text
  }
  throw new LifeboatError('unavailable', `${connection.peer}: the iSCSI target's login answer did not end`);
}
