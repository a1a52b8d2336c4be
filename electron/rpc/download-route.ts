// GET /download/<ticket>: an archive of picked items streamed to the browser console (the ticket
// came over the authenticated socket, files.download; items/download-tickets.ts). Nothing is
// written on the engine's disk: the archive goes from the point's blocks to the socket, one write
// at a time, waiting for the client to take each (a slow client holds a few chunks, not the
// archive). An item that fails mid-way destroys the response, so the browser sees a broken
// download rather than a shorter archive that looks whole (before the first byte: a 500).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import type { ByteSink } from '../items/archive.ts';

const TICKET = /^\/download\/([A-Za-z0-9_-]{43})$/;

export const isDownloadPath = (path: string): boolean => path.startsWith('/download/');

/** A file name header value: an ASCII fallback for old clients, the UTF-8 name in filename*. */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** How often a download waited for its client to take bytes: the evidence (tests) that a slow
 * client holds the archive back instead of having it buffered here. */
export const clientWaits = { count: 0 };

/** Writes that resolve once the response can take more ('drain'), and fail once it is gone. */
function responseSink(response: ServerResponse): ByteSink {
  return {
    write: (bytes) =>
      new Promise<void>((resolve, reject) => {
        if (response.destroyed) return reject(new LifeboatError('cancelled', 'the browser stopped the download'));
        if (response.write(bytes)) return resolve();
        clientWaits.count++;
        const settle = (error?: Error): void => {
          response.off('drain', onDrain);
          response.off('close', onClose);
          if (error) reject(error);
          else resolve();
        };
        const onDrain = (): void => settle();
        const onClose = (): void => settle(new LifeboatError('cancelled', 'the browser stopped the download'));
        response.on('drain', onDrain);
        response.on('close', onClose);
      }),
  };
}

export async function serveDownload(engine: Engine, path: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET') {
    response.writeHead(405, { allow: 'GET' }).end();
    return;
  }
  const ticket = TICKET.exec(path)?.[1];
  const download = ticket === undefined ? null : engine.files.downloads.take(ticket);
  // A ticket of a session that ended is no ticket: the same answer as an unknown one.
  if (!download || !engine.sessions.touch(download.session)) {
    response.writeHead(404, { 'cache-control': 'no-store' }).end();
    return;
  }
  // Sent with the first bytes: a download that fails before any can still say so with a status.
  response.setHeader('content-type', download.contentType);
  response.setHeader('content-disposition', contentDisposition(download.name));
  response.setHeader('x-content-type-options', 'nosniff');
  response.setHeader('cache-control', 'no-store');
  const gone = new AbortController();
  response.on('close', () => gone.abort());
  const over = engine.files.downloads.started(download.session, () => response.destroy());
  try {
    await download.write(responseSink(response), gone.signal);
    response.end();
  } catch {
    // Already logged by the download. Before any byte: a 500; after: no chunked terminator, so
    // the client knows the archive is cut.
    if (response.headersSent || response.destroyed) return void response.destroy();
    response.removeHeader('content-disposition');
    response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('the items could not be read; the engine log says why\n');
  } finally {
    over();
  }
}
