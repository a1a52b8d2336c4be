// The audit log's head, kept outside its table: after every append, "<id> <hash> <at>" goes on
// a line of <home>/audit/anchors.log (opened O_APPEND, synced). Rows cut off the end of the
// table (with its triggers dropped) no longer match what was anchored, and `audit verify` names
// them. Restore point manifests carry the head too: a third place to rewrite.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';

export type AuditHead = { id: number; hash: string };
export type Anchor = AuditHead & { at: string };

const LINE = /^([1-9]\d{0,15}) ([0-9a-f]{64}) (\S{1,40})$/;

export function appendAnchor(path: string, anchor: Anchor): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const fd = openSync(path, 'a', 0o600);
  try {
    writeSync(fd, `${anchor.id} ${anchor.hash} ${anchor.at}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The anchors in order, or null when the file is not there. A last line without its newline is
 * a write a crash cut short and is left out; any other line that is not an anchor, or ids that
 * do not rise, make the file damaged. */
export function parseAnchors(text: string, path: string): Anchor[] {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a torn last write
  const anchors: Anchor[] = [];
  for (const [index, line] of lines.entries()) {
    const match = LINE.exec(line);
    const id = Number(match?.[1]);
    if (!match || (anchors.length > 0 && id <= (anchors.at(-1) as Anchor).id)) throw new LifeboatError('corrupt-backup', `audit anchors ${path} are damaged at line ${index + 1}`);
    anchors.push({ id, hash: match[2] as string, at: match[3] as string });
  }
  return anchors;
}

export function readAnchors(path: string): Anchor[] | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
  return parseAnchors(text, path);
}
