// A self-signed X.509 v3 server certificate (ECDSA P-256, SHA-256) made with node:crypto alone,
// so the engine needs no openssl binary at run time. It names the console's host names and
// addresses, is a leaf (not a CA), and is for TLS servers only.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString,
  booleanTrue,
  explicit,
  implicit,
  objectIdentifier,
  octetString,
  sequence,
  set,
  time,
  tlv,
  unsignedInteger,
  utf8String,
} from './der.ts';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';
const ORGANIZATION = '2.5.4.10';
const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const EXTENDED_KEY_USAGE = '2.5.29.37';
const SUBJECT_ALT_NAME = '2.5.29.17';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

export type SelfSignedRequest = {
  /** DNS names and IP addresses the certificate is for; the first is also its common name. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
};
export type SelfSigned = { certPem: string; keyPem: string };

/** IPv6 text to its 16 bytes ("::" expanded; an embedded IPv4 tail allowed). */
function ipv6Bytes(text: string): Buffer {
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  const body = tail ? text.slice(0, -tail.length) + (text.endsWith(`:${tail}`) ? '0:0' : '') : text;
  const [head = '', rest] = body.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = rest === undefined ? [] : groups(rest);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2));
  if (tail) tail.split('.').forEach((octet, index) => (bytes[12 + index] = Number(octet)));
  return bytes;
}

function generalName(name: string): Buffer {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  const family = isIP(bare);
  if (family === 4) return implicit(7, Buffer.from(bare.split('.').map(Number)));
  if (family === 6) return implicit(7, ipv6Bytes(bare));
  return implicit(2, Buffer.from(bare, 'ascii'));
}

const extension = (oid: string, critical: boolean, value: Uint8Array): Buffer =>
  sequence(objectIdentifier(oid), ...(critical ? [booleanTrue()] : []), octetString(value));

const toPem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/** The DER of a certificate for `publicKey`, signed by `privateKey` (its own pair). */
export function certificateDer(request: SelfSignedRequest, publicKey: KeyObject, privateKey: KeyObject): Buffer {
  if (request.names.length === 0) throw new RangeError('a certificate needs at least one name');
  const algorithm = sequence(objectIdentifier(ECDSA_WITH_SHA256));
  const name = sequence(
    set(sequence(objectIdentifier(ORGANIZATION), utf8String('Lifeboat'))),
    set(sequence(objectIdentifier(COMMON_NAME), utf8String(request.names[0] as string))),
  );
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive and 16 bytes long
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(serial),
    algorithm,
    name,
    sequence(time(request.notBefore), time(request.notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        extension(BASIC_CONSTRAINTS, true, sequence()),
        extension(KEY_USAGE, true, tlv(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature
        extension(EXTENDED_KEY_USAGE, false, sequence(objectIdentifier(SERVER_AUTH))),
        extension(SUBJECT_ALT_NAME, false, sequence(...request.names.map(generalName))),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  return sequence(tbs, algorithm, bitString(signature));
}

/** A new P-256 key and a certificate for it, both PEM. */
export function makeSelfSigned(request: SelfSignedRequest): SelfSigned {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    certPem: toPem('CERTIFICATE', certificateDer(request, publicKey, privateKey)),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}
