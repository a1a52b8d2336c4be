// A guest's file name made safe to use as one component of a path on this machine (and of a
// /diskN/partM/... path the console or the CLI picks items by). The guest's file system is
// outside input: its names may hold '/', NUL or control characters, or be '.' or '..'. Such names
// are escaped as %XX (UTF-8 bytes), visibly and reversibly: a '%' that already reads as %XX is
// escaped too, so decoding every %XX gives the guest's name back. Shared by the engine and the
// console, so it uses no Node modules.

/** Characters a name on this machine must not hold: '/', NUL and the other C0 controls, DEL, C1. */
const UNSAFE = /[\x00-\x1f\x7f\u0080-\u009f/]|%(?=[0-9A-Fa-f]{2})/gu;

const utf8 = new TextEncoder();

const percent = (character: string): string =>
  [...utf8.encode(character)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');

/** Linux file systems hold names of up to 255 bytes. */
const MAX_NAME_BYTES = 255;

/** FNV-1a (64-bit) of the name's UTF-8 bytes: short, stable, the same in Node and a browser. */
function fingerprint(name: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of utf8.encode(name)) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n);
  return hash.toString(16).padStart(16, '0');
}

/** A name too long once escaped keeps its start and gains a short hash of the whole (the only
 * case where the guest's name cannot be read back; the job log has it). */
function shortened(name: string): string {
  const hash = fingerprint(name);
  let kept = name;
  while (utf8.encode(kept).length > MAX_NAME_BYTES - hash.length - 1) kept = kept.slice(0, -1);
  return `${kept.replace(/%[0-9A-F]?$/, '')}~${hash}`;
}

/** The name to write, and whether it differs from the guest's (the job log says so). */
export function escapeGuestName(name: string): { name: string; escaped: boolean } {
  if (name === '') return { name: '%00-empty', escaped: true };
  if (name === '.' || name === '..') return { name: name.replaceAll('.', '%2E'), escaped: true };
  const safe = name.replace(UNSAFE, percent);
  const fitting = utf8.encode(safe).length > MAX_NAME_BYTES ? shortened(safe) : safe;
  return { name: fitting, escaped: fitting !== name };
}

/** The guest's name back from an escaped one (that was not shortened). */
export function unescapeGuestName(name: string): string {
  const bytes = name
    .split(/(%[0-9A-F]{2})/)
    .flatMap((part) => (/^%[0-9A-F]{2}$/.test(part) ? [Number.parseInt(part.slice(1), 16)] : [...utf8.encode(part)]));
  return new TextDecoder().decode(new Uint8Array(bytes));
}
