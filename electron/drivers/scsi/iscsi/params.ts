// Operational parameter negotiation (RFC 7143 §6.2, §13): what we offer, how an answer or a
// target's own offer resolves, and the values the session then obeys. We speak ErrorRecoveryLevel 0,
// one connection, no digests, data in order.
import { LifeboatError } from '../../../errors.ts';
import type { TextPairs } from './text.ts';

export type SessionParams = {
  /** Our MaxRecvDataSegmentLength: the largest data segment the target may send us. */
  maxRecvDataSegment: number;
  /** The target's MaxRecvDataSegmentLength: the largest data segment we may send it. */
  maxSendDataSegment: number;
  maxBurstLength: number;
  firstBurstLength: number;
  initialR2T: boolean;
  immediateData: boolean;
  maxOutstandingR2T: number;
  defaultTime2Wait: number;
  defaultTime2Retain: number;
  /** CRC32C digests on headers and on data. */
  headerDigest: boolean;
  dataDigest: boolean;
};

export const OUR_MAX_RECV_DATA_SEGMENT = 262144;

/** RFC 7143 defaults: what holds for a key nobody negotiated. */
export function defaultParams(): SessionParams {
  return {
    maxRecvDataSegment: OUR_MAX_RECV_DATA_SEGMENT,
    maxSendDataSegment: 8192,
    maxBurstLength: 262144,
    firstBurstLength: 65536,
    initialR2T: true,
    immediateData: true,
    maxOutstandingR2T: 1,
    defaultTime2Wait: 2,
    defaultTime2Retain: 20,
    headerDigest: false,
    dataDigest: false,
  };
}

type Rule =
  | { kind: 'min'; offer: number; min: number; max: number; set: (params: SessionParams, value: number) => void }
  | { kind: 'max'; offer: number; min: number; max: number; set: (params: SessionParams, value: number) => void }
  | { kind: 'or' | 'and'; offer: boolean; set: (params: SessionParams, value: boolean) => void }
  | { kind: 'digest'; set: (params: SessionParams, value: boolean) => void }
  | { kind: 'exact'; offer: string };

const sessionRules: Record<string, Rule> = {
  InitialR2T: { kind: 'or', offer: false, set: (p, v) => (p.initialR2T = v) },
  ImmediateData: { kind: 'and', offer: true, set: (p, v) => (p.immediateData = v) },
  MaxBurstLength: { kind: 'min', offer: 16776192, min: 512, max: 16777215, set: (p, v) => (p.maxBurstLength = v) },
  FirstBurstLength: { kind: 'min', offer: 262144, min: 512, max: 16777215, set: (p, v) => (p.firstBurstLength = v) },
  MaxOutstandingR2T: { kind: 'min', offer: 1, min: 1, max: 65535, set: (p, v) => (p.maxOutstandingR2T = v) },
  DataPDUInOrder: { kind: 'exact', offer: 'Yes' },
  DataSequenceInOrder: { kind: 'exact', offer: 'Yes' },
  ErrorRecoveryLevel: { kind: 'exact', offer: '0' },
  MaxConnections: { kind: 'exact', offer: '1' },
  DefaultTime2Wait: { kind: 'max', offer: 2, min: 0, max: 3600, set: (p, v) => (p.defaultTime2Wait = v) },
  DefaultTime2Retain: { kind: 'min', offer: 0, min: 0, max: 3600, set: (p, v) => (p.defaultTime2Retain = v) },
};

const connectionRules: Record<string, Rule> = {
  HeaderDigest: { kind: 'digest', set: (p, v) => (p.headerDigest = v) },
  DataDigest: { kind: 'digest', set: (p, v) => (p.dataDigest = v) },
};

/** Keys a target declares about itself: nothing to answer. */
const DECLARATIVE = new Set(['TargetAlias', 'TargetPortalGroupTag', 'TargetAddress', 'TargetName', 'InitiatorAlias']);

function offerText(rule: Rule, preferDigests: boolean): string {
  switch (rule.kind) {
    case 'min':
    case 'max':
      return String(rule.offer);
    case 'or':
    case 'and':
      return rule.offer ? 'Yes' : 'No';
    case 'digest':
      return preferDigests ? 'CRC32C,None' : 'None,CRC32C';
    case 'exact':
      return rule.offer;
  }
}

function refused(peer: string, key: string, value: string, why: string): LifeboatError {
  return new LifeboatError('unavailable', `${peer}: the iSCSI target answered ${key}=${value.slice(0, 60)}: ${why}`);
}

function parseNumber(peer: string, key: string, value: string, low: number, high: number): number {
  const number = /^\d{1,10}$/.test(value)
    ? Number(value)
    : /^0x[0-9a-f]{1,8}$/i.test(value)
      ? Number.parseInt(value.slice(2), 16)
      : Number.NaN;
  if (!Number.isInteger(number) || number < low || number > high) throw refused(peer, key, value, `not a number from ${low} to ${high}`);
  return number;
}

function parseBoolean(peer: string, key: string, value: string): boolean {
  if (value === 'Yes') return true;
  if (value === 'No') return false;
  throw refused(peer, key, value, 'neither Yes nor No');
}

/** One login's negotiation: our offers, then each target PDU's keys absorbed into the result. */
export class Negotiation {
  readonly params = defaultParams();
  readonly #peer: string;
  readonly #rules: Record<string, Rule>;
  readonly #offered = new Set<string>();
  readonly #preferDigests: boolean;

  /** Digests: by default we offer None first and accept CRC32C; preferDigests offers CRC32C first. */
  constructor(peer: string, discovery: boolean, preferDigests = false) {
    this.#peer = peer;
    this.#preferDigests = preferDigests;
    this.#rules = discovery ? connectionRules : { ...connectionRules, ...sessionRules };
  }

  offers(): TextPairs {
    const pairs: TextPairs = Object.entries(this.#rules).map(([key, rule]) => [key, offerText(rule, this.#preferDigests)]);
    pairs.push(['MaxRecvDataSegmentLength', String(OUR_MAX_RECV_DATA_SEGMENT)]);
    for (const [key] of pairs) this.#offered.add(key);
    return pairs;
  }

  /** Takes the target's keys; returns our answers to the keys it offered on its own. */
  absorb(pairs: TextPairs): TextPairs {
    const replies: TextPairs = [];
    for (const [key, value] of pairs) {
      if (key === 'MaxRecvDataSegmentLength') {
        this.params.maxSendDataSegment = parseNumber(this.#peer, key, value, 512, 16777215);
        continue;
      }
      if (DECLARATIVE.has(key)) continue;
      const rule = this.#rules[key];
      const answering = this.#offered.has(key);
      if (!rule) {
        if (!answering && !['Irrelevant', 'NotUnderstood', 'Reject'].includes(value)) replies.push([key, 'NotUnderstood']);
        continue;
      }
      const reply = this.#resolve(key, value, rule, answering);
      if (!answering && reply !== null) replies.push([key, reply]);
    }
    return replies;
  }

  #resolve(key: string, value: string, rule: Rule, answering: boolean): string | null {
    if (value === 'Irrelevant' || value === 'NotUnderstood') return null; // the default holds
    if (value === 'Reject') {
      if (rule.kind === 'digest') throw refused(this.#peer, key, value, 'the target accepts neither None nor CRC32C');
      if (rule.kind === 'exact') throw refused(this.#peer, key, value, `Lifeboat needs ${key}=${rule.offer}`);
      return null;
    }
    switch (rule.kind) {
      case 'digest': {
        // An answer names one of ours; an offer is a list, of which we take the first we speak.
        const chosen = answering
          ? ['None', 'CRC32C'].includes(value)
            ? value
            : undefined
          : value.split(',').find((one) => one === 'None' || one === 'CRC32C');
        if (chosen === undefined) throw refused(this.#peer, key, value, 'Lifeboat speaks None and CRC32C digests only');
        rule.set(this.params, chosen === 'CRC32C');
        return chosen;
      }
      case 'exact': {
        // ErrorRecoveryLevel and MaxConnections resolve to the minimum; DataPDUInOrder/DataSequenceInOrder
        // to Yes if either side says Yes: our offer is the result either way.
        if (answering && value !== rule.offer) throw refused(this.#peer, key, value, `Lifeboat needs ${key}=${rule.offer}`);
        if (!answering && rule.offer !== 'Yes') parseNumber(this.#peer, key, value, 0, 65535);
        return rule.offer;
      }
      case 'min':
      case 'max': {
        const theirs = parseNumber(this.#peer, key, value, rule.min, rule.max);
        const result = rule.kind === 'min' ? Math.min(theirs, rule.offer) : Math.max(theirs, rule.offer);
        rule.set(this.params, answering ? theirs : result);
        return String(result);
      }
      case 'or':
      case 'and': {
        const theirs = parseBoolean(this.#peer, key, value);
        const result = rule.kind === 'or' ? theirs || rule.offer : theirs && rule.offer;
        rule.set(this.params, answering ? theirs : result);
        return result ? 'Yes' : 'No';
      }
    }
  }

  /** Bursts are capped by one another (FirstBurstLength ≤ MaxBurstLength). */
  finish(): SessionParams {
    this.params.firstBurstLength = Math.min(this.params.firstBurstLength, this.params.maxBurstLength);
    return this.params;
  }
}
