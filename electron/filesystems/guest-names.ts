// A guest's file name made safe to use as one component of a path on this machine. The guest's
// file system is outside input: its names may hold '/', NUL or control characters, or be '.' or
// '..'. Such names are escaped as %XX (UTF-8 bytes), visibly and reversibly: a '%' that already
// reads as %XX is escaped too, so decoding every %XX gives the guest's name back.

import { createHash } from 'node:crypto';

/** Characters a name on this machine must not hold: '/', NUL and the other C0 controls, DEL, C1. */
const UNSAFE = /[\x00-\x1f\x7f\u0080-\u009f/]|%(?=[0-9A-Fa-f]{2})/gu;

const percent = (character: string): string => [...Buffer.from(character, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Linux file systems hold names of up to 255 bytes. */
const MAX_NAME_BYTES = 255;

/** A name too long once escaped keeps its start and gains a short hash of the whole (the only
 * case where the guest's name cannot be read back; the job log has it). */
function shortened(name: string): string {
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12);
  let kept = name;
  while (Buffer.byteLength(kept) > MAX_NAME_BYTES - hash.length - 1) kept = kept.slice(0, -1);
  return `${kept.replace(/%[0-9A-F]?$/, '')}~${hash}`;
}

/** The name to write, and whether it differs from the guest's (the job log says so). */
export function escapeGuestName(name: string): { name: string; escaped: boolean } {
  if (name === '') return { name: '%00-empty', escaped: true };
  if (name === '.' || name === '..') return { name: name.replaceAll('.', '%2E'), escaped: true };
  const safe = name.replace(UNSAFE, percent);
  const fitting = Buffer.byteLength(safe) > MAX_NAME_BYTES ? shortened(safe) : safe;
  return { name: fitting, escaped: fitting !== name };
}

/** The guest's name back from an escaped one (that was not shortened). */
export function unescapeGuestName(name: string): string {
  const parts = name.split(/(%[0-9A-F]{2})/);
  return Buffer.concat(parts.map((part) => (/^%[0-9A-F]{2}$/.test(part) ? Buffer.from([Number.parseInt(part.slice(1), 16)]) : Buffer.from(part, 'utf8')))).toString('utf8');
}
