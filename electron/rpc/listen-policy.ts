// Where the console may listen and how: plain HTTP only on loopback; beyond loopback only when
// the operator says so (--allow-remote), and then only HTTPS + WSS, under the operator's
// certificate or one the engine made. A pure decision with its reasons, so it is tested alone.
import { isIPv4, isIPv6 } from 'node:net';
import { LifeboatError } from '../errors.ts';

/** Addresses that never leave this machine. A name other than `localhost` counts as remote:
 * what it resolves to is not ours to trust, and the bound address is checked again. */
export function isLoopbackAddress(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  if (!isIPv6(bare)) return false;
  const lower = bare.toLowerCase();
  if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^(?:0:0:0:0:0|:):ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  return mapped?.[1] !== undefined && isIPv4(mapped[1]) && mapped[1].startsWith('127.');
}

export type CertificateSource = 'none' | 'operator' | 'self-signed';
export type ListenDecision = { scheme: 'http' | 'https'; certificate: CertificateSource; reasons: string[] };
export type ListenInput = {
  host: string;
  allowRemote: boolean;
  /** --tls: serve HTTPS on loopback too. */
  forceTls: boolean;
  /** --tls-cert and --tls-key were given. */
  operatorCertificate: boolean;
};

export function decideListen(input: ListenInput): ListenDecision {
  const loopback = isLoopbackAddress(input.host);
  if (!loopback && !input.allowRemote) {
    throw new LifeboatError(
      'bad-request',
      `refusing to serve the console on ${input.host}: pass --allow-remote to listen beyond loopback (it is then served over HTTPS only)`,
    );
  }
  const reasons: string[] = [];
  if (!loopback) reasons.push(`${input.host} is not a loopback address: the console and its session keys go over HTTPS and WSS only`);
  else if (input.operatorCertificate) reasons.push('a certificate was given: HTTPS on loopback too');
  else if (input.forceTls) reasons.push('--tls: HTTPS on loopback too');
  else return { scheme: 'http', certificate: 'none', reasons: [`${input.host} is loopback: plain HTTP never leaves this machine`] };
  const certificate: CertificateSource = input.operatorCertificate ? 'operator' : 'self-signed';
  reasons.push(
    certificate === 'operator'
      ? "under the operator's certificate (--tls-cert, --tls-key)"
      : "under the engine's own self-signed certificate; check its fingerprint",
  );
  return { scheme: 'https', certificate, reasons };
}
