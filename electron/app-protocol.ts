// lifeboat://app/<path>: the built console's files for the desktop app, instead of file:// (which
// gives pages extra reach over the disk). Nothing outside the renderer folder is served,
// whatever the URL spells (../, %2F, symlinks), and every answer carries the CSP.
import { readFile, realpath } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { isErrnoCode } from './errors.ts';

export const APP_SCHEME = 'lifeboat';
export const APP_HOST = 'app';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** The page may load only its own scripts, styles and images; no frames, forms or plugins. */
export const APP_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'";

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** Whether `url` is in the app's own origin (lifeboat://app). */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}

function refused(status: 400 | 404): Response {
  return new Response(status === 404 ? 'not found' : 'bad request', {
    status,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'content-security-policy': APP_CSP },
  });
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root + sep);
}

/** The answer to one request of the app's scheme, from the files under `root`. */
export async function serveAppFile(root: string, requestUrl: string): Promise<Response> {
  if (!isAppUrl(requestUrl)) return refused(404);
  let path: string;
  try {
    path = decodeURIComponent(new URL(requestUrl).pathname);
  } catch {
    return refused(400);
  }
  if (path.includes('\0')) return refused(400);
  const file = resolve(root, `.${path === '/' ? '/index.html' : path}`);
  if (!inside(resolve(root), file)) return refused(404);
  try {
    // A symlink in the folder must not lead out of it either.
    if (!inside(await realpath(root), await realpath(file))) return refused(404);
    const body = await readFile(file);
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': APP_CSP,
        'x-content-type-options': 'nosniff',
      },
    });
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'EISDIR') || isErrnoCode(error, 'ENOTDIR')) return refused(404);
    throw error;
  }
}
