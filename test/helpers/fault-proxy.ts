// A fault injector in front of the vCenter simulator: a loopback HTTP server that forwards to
// vcsim over TLS, and answers chosen SOAP methods (or datastore uploads, or datastore reads after
// some have passed) with a failure instead, or with an answer of the test's own (what an ESXi
// host would say where vcsim cannot).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { listenOnLoopback } from './loopback-server.ts';

export type FaultRule =
  | { method: string; fault: string; message: string }
  | { upload: true; status: number }
  /** A datastore upload (PUT /folder/...) whose connection is closed once `afterBytes` have come. */
  | { upload: 'drop'; afterBytes: number }
  /** A datastore upload the host stops reading once `afterBytes` have come (the connection stays open). */
  | { upload: 'stall'; afterBytes: number }
  /** Datastore file reads (GET /folder/...): the first `after` pass, the rest get `status`, or
   * ('drop') have their connection closed, or ('stall') are never answered. */
  | { download: true; status: number | 'drop' | 'stall'; after: number }
  | { rewrite: (soapMethod: string, responseBody: string) => string }
  /** Answers a SOAP call itself (HTTP 200) when `answer` returns a body; null: goes on as usual. */
  | { answer: (soapMethod: string, requestBody: string) => string | null };

type UploadCut = Extract<FaultRule, { afterBytes: number }>;

export const faultEnvelope = (fault: string, message: string): string =>
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  `<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${message}</faultstring><detail><${fault}Fault xmlns="urn:vim25" xsi:type="${fault}"/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`;

/** Starts the injector; `rules` can be changed between calls. Returns its http:// URL. */
export async function startFaultProxy(upstream: string, rules: FaultRule[]): Promise<{ url: string; injected: string[] }> {
  const target = new URL(upstream);
  const injected: string[] = [];
  const downloadsPassed = new WeakMap<FaultRule, number>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const isUpload = request.method === 'PUT' && request.url?.startsWith('/folder/') === true;
    request.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      received += chunk.length;
      // An upload cut short (dropped or no longer read) once enough of it has come.
      const cut = isUpload ? rules.find((rule): rule is UploadCut => 'afterBytes' in rule && received > rule.afterBytes) : undefined;
      if (cut?.upload === 'drop' && !request.socket.destroyed) {
        injected.push(`PUT ${request.url}`);
        request.socket.destroy();
      } else if (cut?.upload === 'stall' && !request.isPaused()) {
        injected.push(`STALL ${request.url}`);
        request.pause();
      }
    });
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const soapMethod = /<soapenv:Body><(\w+)/.exec(body.toString('utf8'))?.[1];
      for (const rule of rules) {
        const answer = 'answer' in rule && soapMethod ? rule.answer(soapMethod, body.toString('utf8')) : null;
        if (answer !== null && soapMethod) {
          injected.push(soapMethod);
          response.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' }).end(answer);
          return;
        }
        if ('upload' in rule && rule.upload === true && isUpload) {
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
          if (rule.status === 'drop') request.socket.destroy();
          else if (rule.status !== 'stall') response.writeHead(rule.status).end();
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
  const port = await listenOnLoopback(server);
  return { url: `http://127.0.0.1:${port}/sdk`, injected };
}
