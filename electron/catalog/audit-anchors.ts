// The audit log's head, kept outside its table: after every append, "<id> <hash> <at>" goes on
// a line of <home>/audit/anchors.log (opened O_APPEND, synced). Rows cut off the end of the
// table (with its triggers dropped) no longer match what was anchored, and `audit verify` names
// them. Restore point manifests carry the head too: a third place to rewrite.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
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

const LONGEST_LINE = 4096;

/** A crash can cut the last line short. Before this process's first append, that fragment is
 * dropped so the next line starts clean: its row was never whole in the file, and the chain
 * still covers it. A file whose last 4 KiB hold no line end is damaged, not torn, and is left
 * for `audit verify` to report. */
export function dropTornAnchor(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return;
    throw error;
  }
  try {
    const { size } = fstatSync(fd);
    const tail = Buffer.alloc(Math.min(size, LONGEST_LINE));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    if (tail.length === 0 || tail[tail.length - 1] === 0x0a) return;
    const lastEnd = tail.lastIndexOf(0x0a);
    if (lastEnd === -1 && size > LONGEST_LINE) return;
    ftruncateSync(fd, size - tail.length + lastEnd + 1);
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
    if (!match || (anchors.length > 0 && id <= (anchors.at(-1) as Anchor).id))
      throw new LifeboatError('corrupt-backup', `audit anchors ${path} are damaged at line ${index + 1}`);
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
