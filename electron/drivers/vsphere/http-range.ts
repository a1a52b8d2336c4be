// What a host's file service answered to a ranged GET (outside bytes), judged strictly: the
// exact bytes asked for, or one clear error. A short body or a range other than the one asked
// would silently shift a disk's bytes, so neither is ever patched up.
import type { IncomingHttpHeaders } from 'node:http';
import { LifeboatError } from '../../errors.ts';

export type ContentRange = { start: number; end: number; total: number | null };

/** "bytes 0-99/1000" or "bytes 0-99/*"; null when the header is absent or not that shape. */
export function parseContentRange(header: string | undefined): ContentRange | null {
  const match = /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(header?.trim() ?? '');
  if (!match) return null;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (total !== null && (!Number.isSafeInteger(total) || end >= total)) return null;
  return { start, end, total };
}

/** The body of an answer to `Range: bytes=offset-(offset+length-1)`, or the error it means. A 200
 * (the whole file, the Range ignored) is accepted only when the whole file is what was asked. */
export function rangeBody(
  answer: { status: number; headers: IncomingHttpHeaders; body: Buffer },
  asked: { offset: number; length: number; label: string },
): Buffer {
  const { status, headers, body } = answer;
  const { offset, length, label } = asked;
  const where = `${label} at offset ${offset} (${length} bytes)`;
  const fail = (why: string): never => {
    throw new LifeboatError('unavailable', `reading ${where} failed: ${why}`);
  };
  if (status === 404) throw new LifeboatError('not-found', `reading ${where} failed: the file is not there (HTTP 404)`);
  if (status === 401 || status === 403)
    throw new LifeboatError('unauthorized', `reading ${where} failed: the host refused the session (HTTP ${status})`);
  if (status === 416) fail('the range lies past the end of the file (HTTP 416); the file shrank while it was read');
  if (status === 200) {
    if (offset !== 0 || body.length !== length) fail(`the host ignored the range and sent ${body.length} bytes (HTTP 200)`);
    return body;
  }
  if (status !== 206) fail(`HTTP ${status}`);
  const range = parseContentRange(headers['content-range']);
  if (!range) fail(`the answer has no usable Content-Range (${JSON.stringify(headers['content-range'] ?? null)})`);
  const { start, end } = range as ContentRange;
  if (start !== offset || end !== offset + length - 1) fail(`the host sent bytes ${start}-${end} instead`);
  if (body.length !== length) fail(`the answer holds ${body.length} bytes`);
  return body;
}
