// X.509 v3 certificates (ECDSA P-256 keys, signed with ECDSA SHA-256) written with node:crypto and
// the DER encoder alone, so the engine needs no openssl binary at run time. Three uses: an
// authority that signs the others, a TLS server naming its hosts and addresses, a TLS client
// named by its common name.
import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
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
const SUBJECT_KEY_IDENTIFIER = '2.5.29.14';
const KEY_USAGE = '2.5.29.15';
const SUBJECT_ALT_NAME = '2.5.29.17';
const BASIC_CONSTRAINTS = '2.5.29.19';
const AUTHORITY_KEY_IDENTIFIER = '2.5.29.35';
const EXTENDED_KEY_USAGE = '2.5.29.37';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** What the certificate is for: signing other certificates (and revocation lists), a TLS server
 * with these DNS names and addresses, or a TLS client. */
export type CertificateUse = { kind: 'authority' } | { kind: 'server'; names: string[] } | { kind: 'client' };

export type CertificateRequest = {
  /** The subject's common name (its organization is always Lifeboat). */
  commonName: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  use: CertificateUse;
};

/** Who signs: its common name, its private key and its public key (the subject's own for a self-signed one). */
export type Signer = { commonName: string; privateKey: KeyObject; publicKey: KeyObject };

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

const distinguishedName = (commonName: string): Buffer =>
  sequence(
    set(sequence(objectIdentifier(ORGANIZATION), utf8String('Lifeboat'))),
    set(sequence(objectIdentifier(COMMON_NAME), utf8String(commonName))),
  );

/** The key identifier of a public key: SHA-1 of its SPKI (RFC 5280 leaves the method open). */
const keyIdentifier = (publicKey: KeyObject): Buffer =>
  createHash('sha1')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();

function useExtensions(use: CertificateUse): Buffer[] {
  switch (use.kind) {
    case 'authority':
      return [
        // CA, and it signs only end-entity certificates (path length 0).
        extension(BASIC_CONSTRAINTS, true, sequence(booleanTrue(), unsignedInteger(Buffer.from([0])))),
        extension(KEY_USAGE, true, tlv(0x03, Buffer.from([0x01, 0x06]))), // keyCertSign, cRLSign
      ];
    case 'server':
      if (use.names.length === 0) throw new RangeError('a server certificate needs at least one name');
      return [
        extension(BASIC_CONSTRAINTS, true, sequence()),
        extension(KEY_USAGE, true, tlv(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature
        extension(EXTENDED_KEY_USAGE, false, sequence(objectIdentifier(SERVER_AUTH))),
        extension(SUBJECT_ALT_NAME, false, sequence(...use.names.map(generalName))),
      ];
    case 'client':
      return [
        extension(BASIC_CONSTRAINTS, true, sequence()),
        extension(KEY_USAGE, true, tlv(0x03, Buffer.from([0x07, 0x80]))), // digitalSignature
        extension(EXTENDED_KEY_USAGE, false, sequence(objectIdentifier(CLIENT_AUTH))),
      ];
  }
}

/** A random positive 16-byte serial. */
function newSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive, and 16 bytes long with no leading zero
  return serial;
}

/** The DER of a certificate for `request`, signed by `signer`, and its serial (lowercase hex). */
export function certificateDer(request: CertificateRequest, signer: Signer): { der: Buffer; serial: string } {
  const algorithm = sequence(objectIdentifier(ECDSA_WITH_SHA256));
  const selfSigned = signer.publicKey.equals(request.publicKey);
  const serial = newSerial();
  const tbs = sequence(
    explicit(0, unsignedInteger(Buffer.from([2]))), // v3
    unsignedInteger(serial),
    algorithm,
    distinguishedName(signer.commonName),
    sequence(time(request.notBefore), time(request.notAfter)),
    distinguishedName(request.commonName),
    request.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(
      3,
      sequence(
        ...useExtensions(request.use),
        extension(SUBJECT_KEY_IDENTIFIER, false, octetString(keyIdentifier(request.publicKey))),
        ...(selfSigned ? [] : [extension(AUTHORITY_KEY_IDENTIFIER, false, sequence(implicit(0, keyIdentifier(signer.publicKey))))]),
      ),
    ),
  );
  const signature = sign('sha256', tbs, { key: signer.privateKey, dsaEncoding: 'der' });
  return { der: sequence(tbs, algorithm, bitString(signature)), serial: serialHex(serial.toString('hex')) };
}

export const toPem = (label: string, der: Uint8Array): string =>
  `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;

/** A serial as node:crypto prints it (upper-case hex, maybe with leading zeros) in the form
 * certificateDer returns: lowercase, no leading zeros. */
export const serialHex = (printed: string): string => printed.toLowerCase().replace(/^0+(?=.)/, '');
