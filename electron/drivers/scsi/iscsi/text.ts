// iSCSI text keys (RFC 7143 §6): `key=value` pairs, each ended by a NUL byte, in the data segment
// of Login and Text PDUs. Keys are at most 63 bytes; a value may be long (SendTargets lists), so
// only the whole segment is bounded (by the PDU decoder).
import { LifeboatError } from '../../../errors.ts';

export type TextPairs = [key: string, value: string][];

const KEY = /^[A-Za-z0-9.\-+@_]{1,63}$/;

function malformed(why: string): LifeboatError {
  return new LifeboatError('unavailable', `the iSCSI target sent malformed text keys: ${why}`);
}

/** The pairs in order (SendTargets repeats TargetName/TargetAddress, so this is a list, not a map). */
export function parseTextKeys(data: Uint8Array): TextPairs {
  const pairs: TextPairs = [];
  let start = 0;
  while (start < data.length) {
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length; // a last pair without its NUL: tolerated, some targets omit it
    if (end > start) {
      const text = Buffer.from(data.buffer, data.byteOffset + start, end - start).toString('utf8');
      const equals = text.indexOf('=');
      if (equals < 0) throw malformed(`"${text.slice(0, 80)}" has no "="`);
      const key = text.slice(0, equals);
      if (!KEY.test(key)) throw malformed(`"${key.slice(0, 80)}" is not a key`);
      pairs.push([key, text.slice(equals + 1)]);
    }
    start = end + 1;
  }
  return pairs;
}

export function encodeTextKeys(pairs: TextPairs): Buffer {
  return Buffer.from(pairs.map(([key, value]) => `${key}=${value}\0`).join(''), 'utf8');
}

/** The last value given for a key (targets answer each key once; a repeat wins). */
export function valueOf(pairs: TextPairs, key: string): string | undefined {
  let found: string | undefined;
  for (const [name, value] of pairs) if (name === key) found = value;
  return found;
}
