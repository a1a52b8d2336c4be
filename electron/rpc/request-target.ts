// What a request's target names, read from untrusted bytes without ever throwing: a malformed
// percent escape, an absolute-form or `*` target, a NUL or a dot segment are each just "nothing".
// Both the static files and the WebSocket path go through here, so they cannot disagree.

/** The decoded path of an origin-form target ("/a/b?q=1"), or null when it has none. */
export function requestPath(target: string | undefined): string | null {
  if (target === undefined || !target.startsWith('/')) return null;
  const raw = target.split(/[?#]/, 1)[0] ?? '';
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  return decoded.includes('\0') ? null : decoded;
}

/** The console file a decoded path names, relative to the console's folder, or null when it
 * names none: every segment must be a plain name, so nothing can climb out of the folder. */
export function consoleFile(path: string): string | null {
  if (path === '/') return 'index.html';
  const segments = path.slice(1).split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\\'))) return null;
  return segments.join('/');
}
