// CHAP (RFC 1994) as iSCSI uses it (RFC 7143 §12.1.3): algorithm 5 = MD5 only. The response is
// MD5(identifier byte ‖ secret ‖ challenge); binary values travel as 0x-hex (or 0b-base64).
import { createHash } from 'node:crypto';
import { LifeboatError } from '../../../errors.ts';

export const CHAP_MD5 = '5';

/** A CHAP challenge or response value as the target wrote it. */
export function decodeChapBinary(value: string): Buffer {
  const body = value.slice(2);
  if (/^0x/i.test(value) && /^([0-9a-f]{2})+$/i.test(body)) return Buffer.from(body, 'hex');
  if (/^0b/i.test(value) && body.length > 0 && /^[A-Za-z0-9+/]+=*$/.test(body)) return Buffer.from(body, 'base64');
  throw new LifeboatError('unavailable', `the iSCSI target sent a CHAP value that is neither hex nor base64: "${value.slice(0, 40)}"`);
}

export function encodeChapBinary(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

export function chapResponse(identifier: number, secret: string, challenge: Uint8Array): Buffer {
  return createHash('md5')
    .update(Buffer.from([identifier & 0xff]))
    .update(secret, 'utf8')
    .update(challenge)
    .digest();
}

/** The target's CHAP_I: a decimal (or 0x-hex) byte. */
export function parseChapIdentifier(value: string): number {
  const number = /^0x[0-9a-f]+$/i.test(value) ? Number.parseInt(value.slice(2), 16) : /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < 0 || number > 255) {
    throw new LifeboatError('unavailable', `the iSCSI target sent a CHAP identifier that is not a byte: "${value.slice(0, 40)}"`);
  }
  return number;
}
