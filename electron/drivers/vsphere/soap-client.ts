// SOAP over HTTPS to a vCenter or ESXi host: one POST per call to /sdk, the session cookie kept
// from Login, faults turned into one clear LifeboatError each.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as HttpAgent } from 'node:http';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { DiskChunk } from '../../disks/disk.ts';
import { LifeboatError, type ErrorCode } from '../../errors.ts';
import { el, moRefXml, parseXml, textOf, type MoRef } from './xml.ts';

export type Endpoint = { url: URL; insecure: boolean };

const API_VERSION = '6.5';
const REQUEST_TIMEOUT_MS = 60_000;
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
/** Connections kept open to one vSphere endpoint: many jobs calling it at once (a hundred
 * Instant Recovery starts) queue for these instead of each paying a TCP and TLS set-up (a
 * secure context, key exchange) on the engine's one thread per call. */
const SOCKETS_PER_ENDPOINT = 8;

/** One agent per endpoint (its origin and whether certificates are checked), reused across
 * clients and jobs, with one secure context for all its connections. */
const agents = new Map<string, HttpAgent>();
let secureContext: SecureContext | null = null;
function agentOf(endpoint: Endpoint): HttpAgent {
  const key = `${endpoint.url.origin} ${endpoint.insecure}`;
  let agent = agents.get(key);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: SOCKETS_PER_ENDPOINT, maxFreeSockets: SOCKETS_PER_ENDPOINT };
    agent = endpoint.url.protocol === 'https:' ? new HttpsAgent(options) : new HttpAgent(options);
    agents.set(key, agent);
  }
  return agent;
}

const faultCodes: Record<string, ErrorCode> = {
  InvalidLogin: 'unauthorized',
  NotAuthenticated: 'unauthorized',
  NoPermission: 'unauthorized',
  DuplicateName: 'conflict',
  FileAlreadyExists: 'conflict',
  AlreadyExists: 'conflict',
  InvalidPowerState: 'conflict',
  InvalidState: 'conflict',
  ManagedObjectNotFound: 'not-found',
  FileNotFound: 'not-found',
  NoDiskSpace: 'target-full',
  InsufficientResourcesFault: 'target-full',
  InvalidArgument: 'bad-request',
  InvalidRequest: 'bad-request',
  NotSupported: 'bad-request',
};

export class VsphereFault extends LifeboatError {
  readonly fault: string;
  constructor(code: ErrorCode, fault: string, message: string) {
    super(code, message);
    this.fault = fault;
  }
}

function transportError(endpoint: Endpoint, error: Error & { code?: string }): LifeboatError {
  const where = `vSphere at ${endpoint.url.origin}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(error.code ?? '') || /certificate/i.test(error.message)) {
    return new LifeboatError(
      'unavailable',
      `${where} presents a certificate this machine does not trust (${error.message}); add the host with --insecure only if you trust the network`,
    );
  }
  return new LifeboatError('unavailable', `cannot reach ${where}: ${error.code ?? error.message}`);
}

/** A request body given in pieces, in order (a Readable is one too): a piece's `release` is called
 * once the socket has taken it, so the giver may reuse its memory. */
export type RequestBody = AsyncIterable<Uint8Array | DiskChunk>;

/** Writes the body's pieces as the socket takes them, then ends the request. A piece that fails
 * to come (a corrupt block, a cancel) destroys the request with that error. */
async function writeBody(req: ClientRequest, body: RequestBody): Promise<void> {
  try {
    for await (const piece of body) {
      const { bytes, release } = piece instanceof Uint8Array ? { bytes: piece, release: undefined } : piece;
      if (req.destroyed) {
        release?.();
        return;
      }
      // The callback runs once the piece is written (or the write failed): then its memory is free.
      const more = req.write(bytes, () => release?.());
      if (!more) await drainedOrGone(req);
    }
    req.end();
  } catch (error) {
    req.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Until the request can take more, or is gone (its error is reported by `send`). */
function drainedOrGone(req: ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      req.off('drain', done);
      req.off('close', done);
      resolve();
    };
    req.on('drain', done);
    req.on('close', done);
  });
}

/** One HTTP(S) request with the session cookie; the body is a string or pieces of known length.
 * `maxBodyBytes`: a longer answer is cut off and refused (a ranged read knows its length).
 * `signal`: a cancel ends the request at once, even one whose host has stopped reading the body
 * (which would otherwise hold it until the socket's 60 s timeout). */
export function send(
  endpoint: Endpoint,
  options: {
    method: string;
    path: string;
    headers: Record<string, string | number>;
    body?: string | { chunks: RequestBody; length: number };
    maxBodyBytes?: number;
    signal?: AbortSignal;
  },
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  const limit = Math.min(options.maxBodyBytes ?? MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES);
  const secure = endpoint.url.protocol === 'https:';
  const requestOptions: RequestOptions & { rejectUnauthorized?: boolean } = {
    method: options.method,
    hostname: endpoint.url.hostname,
    port: endpoint.url.port || (secure ? 443 : 80),
    path: options.path,
    headers: options.headers,
    timeout: REQUEST_TIMEOUT_MS,
    agent: agentOf(endpoint),
    ...(secure ? { rejectUnauthorized: !endpoint.insecure, secureContext: (secureContext ??= createSecureContext()) } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(requestOptions, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit)
          req.destroy(
            new LifeboatError('unavailable', `vSphere at ${endpoint.url.origin} answered ${options.method} with more than ${limit} bytes`),
          );
        else chunks.push(chunk);
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', (error) => reject(transportError(endpoint, error)));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    const { signal } = options;
    const cancel = (): void => void req.destroy(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    req.once('close', () => signal?.removeEventListener('abort', cancel));
    req.on('error', (error) => reject(error instanceof LifeboatError ? error : transportError(endpoint, error)));
    if (options.body === undefined) req.end();
    else if (typeof options.body === 'string') req.end(options.body);
    else void writeBody(req, options.body.chunks);
  });
}

export class SoapClient {
  readonly endpoint: Endpoint;
  private cookie: string | null = null;

  constructor(endpoint: Endpoint) {
    this.endpoint = endpoint;
  }

  get sessionCookie(): string | null {
    return this.cookie;
  }

  /** Calls `method` on `target` with the given (already built) parameter elements. */
  async call(method: string, target: MoRef, parameters: string[] = []): Promise<unknown> {
    const envelope =
      '<?xml version="1.0" encoding="UTF-8"?>' +
      '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
      `<soapenv:Body>${el(method, [moRefXml('_this', target), ...parameters], { xmlns: 'urn:vim25' })}` +
      '</soapenv:Body></soapenv:Envelope>';
    const headers: Record<string, string | number> = {
      'content-type': 'text/xml; charset=utf-8',
      soapaction: `urn:vim25/${API_VERSION}`,
      'content-length': Buffer.byteLength(envelope),
    };
    if (this.cookie) headers.cookie = this.cookie;
    const response = await send(this.endpoint, { method: 'POST', path: this.endpoint.url.pathname || '/sdk', headers, body: envelope });
    const setCookie = response.headers['set-cookie']?.find((cookie) => cookie.startsWith('vmware_soap_session'));
    if (setCookie) this.cookie = setCookie.split(';')[0] as string;
    return interpretResponse(this.endpoint.url.origin, method, response.status, response.body.toString('utf8'));
  }
}

/** Reads a SOAP response (outside bytes): the returnval, or the fault as a clear error. */
export function interpretResponse(origin: string, method: string, status: number, text: string): unknown {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseXml(text);
  } catch {
    throw new LifeboatError('unavailable', `vSphere at ${origin} answered ${method} with something that is not XML (HTTP ${status})`);
  }
  const envelope = parsed.Envelope;
  const body =
    envelope && typeof envelope === 'object' ? ((envelope as { Body?: unknown }).Body as Record<string, unknown> | undefined) : undefined;
  if (!body || typeof body !== 'object')
    throw new LifeboatError('unavailable', `vSphere at ${origin} answered ${method} without a SOAP body (HTTP ${status})`);
  if (body.Fault !== undefined) throw faultOf(method, body.Fault);
  const response = body[`${method}Response`];
  return response && typeof response === 'object' ? (response as { returnval?: unknown }).returnval : undefined;
}

function faultOf(method: string, fault: unknown): VsphereFault {
  const record = fault && typeof fault === 'object' ? (fault as Record<string, unknown>) : {};
  const detail = record.detail && typeof record.detail === 'object' ? (record.detail as Record<string, unknown>) : undefined;
  const detailKey = detail ? Object.keys(detail).find((key) => !key.startsWith('@_')) : undefined;
  const detailNode =
    detailKey && detail && typeof detail[detailKey] === 'object' ? (detail[detailKey] as Record<string, unknown>) : undefined;
  const name = String(detailNode?.['@_type'] ?? detailKey ?? 'Fault')
    .replace(/Fault$/, '')
    .replace(/^vim25:/, '');
  const message = textOf(record.faultstring) || name;
  return new VsphereFault(faultCodes[name] ?? 'unavailable', name, `vSphere refused ${method}: ${message} (${name})`);
}
