// A fault injector in front of the vCenter simulator: a loopback HTTP server that forwards to
// vcsim over TLS, and answers chosen SOAP methods (or datastore uploads, or datastore reads after
// some have passed) with a failure instead.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';

export type FaultRule =
  | { method: string; fault: string; message: string }
  | { upload: true; status: number }
  /** Datastore file reads (GET /folder/...): the first `after` pass, the rest get `status`. */
  | { download: true; status: number; after: number }
  | { rewrite: (soapMethod: string, responseBody: string) => string };

const faultEnvelope = (fault: string, message: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  `<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${message}</faultstring><detail><${fault}Fault xmlns="urn:vim25" xsi:type="${fault}"/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`;

/** Starts the injector; `rules` can be changed between calls. Returns its http:// URL. */
export async function startFaultProxy(upstream: string, rules: FaultRule[]): Promise<{ url: string; injected: string[] }> {
  const target = new URL(upstream);
  const injected: string[] = [];
  const downloadsPassed = new WeakMap<FaultRule, number>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const soapMethod = /<soapenv:Body><(\w+)/.exec(body.toString('utf8'))?.[1];
      for (const rule of rules) {
        if ('upload' in rule && request.method === 'PUT' && request.url?.startsWith('/folder/')) {
          injected.push(`PUT ${request.url}`);
          response.writeHead(rule.status).end();
          return;
        }
        if ('download' in rule && request.method === 'GET' && request.url?.startsWith('/folder/')) {
          const passed = downloadsPassed.get(rule) ?? 0;
          if (passed < rule.after) {
            downloadsPassed.set(rule, passed + 1);
            continue;
          }
          injected.push(`GET ${request.url}`);
          response.writeHead(rule.status).end();
          return;
        }
        if ('method' in rule && rule.method === soapMethod) {
          injected.push(soapMethod);
          response.writeHead(500, { 'content-type': 'text/xml' }).end(faultEnvelope(rule.fault, rule.message));
          return;
        }
      }
      const rewrites = rules.flatMap((rule) => ('rewrite' in rule ? [rule.rewrite] : []));
      const forward = httpsRequest(
        {
          hostname: target.hostname,
          port: target.port,
          path: request.url,
          method: request.method,
          headers: { ...request.headers, host: target.host },
          rejectUnauthorized: false,
        },
        (upstreamResponse) => {
          if (rewrites.length === 0 || !soapMethod) {
            response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
            upstreamResponse.pipe(response);
            return;
          }
          const parts: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => parts.push(chunk));
          upstreamResponse.on('end', () => {
            const text = rewrites.reduce((body, rewrite) => rewrite(soapMethod, body), Buffer.concat(parts).toString('utf8'));
            const headers = { ...upstreamResponse.headers, 'content-length': String(Buffer.byteLength(text)) };
            delete headers['transfer-encoding'];
            response.writeHead(upstreamResponse.statusCode ?? 502, headers).end(text);
          });
        },
      );
      forward.on('error', () => response.writeHead(502).end());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/sdk`, injected };
}
