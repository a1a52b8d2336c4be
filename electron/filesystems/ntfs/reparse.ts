// NTFS reparse points ($REPARSE_POINT, attribute 0xC0), as Windows writes them:
// tag u32, data length u16, reserved u16, then the tag's data.
// IO_REPARSE_TAG_SYMLINK (0xA000000C): substitute name offset u16, length u16, print name
// offset u16, length u16, flags u32 (1 = relative), then the UTF-16 path buffer the offsets
// count from. IO_REPARSE_TAG_MOUNT_POINT (0xA0000003, a junction or volume mount point): the
// same without the flags. IO_REPARSE_TAG_LX_SYMLINK (0xA000001D, WSL): version u32, then the
// UTF-8 target. Every other tag keeps the file's real content elsewhere (system compression,
// deduplication, cloud placeholders...): such files are named and refused when read.
import { corrupt } from './layout.ts';

export const TAG_MOUNT_POINT = 0xa0000003;
export const TAG_SYMLINK = 0xa000000c;
export const TAG_LX_SYMLINK = 0xa000001d;
const SYMLINK_RELATIVE = 0x1;

/** What a reparse point makes of its file: a link with its target, or content kept elsewhere
 * (refused, with the tag's name). */
export type Reparse = { tag: number; target: string } | { tag: number; target: null; what: string };

const KNOWN_TAGS: [mask: number, tag: number, what: string][] = [
  [0xffffffff, 0x80000017, 'Windows system-compressed (WOF)'],
  [0xffffffff, 0x80000013, 'deduplicated (Windows Data Deduplication)'],
  [0xffff0fff, 0x9000001a, 'a cloud files placeholder (OneDrive and the like)'],
  [0xffffffff, 0x80000007, 'single-instance storage (SIS)'],
  [0xffffffff, 0xc0000004, 'hierarchical storage (HSM)'],
  [0xffffffff, 0x80000006, 'hierarchical storage (HSM2)'],
  [0xffff0fff, 0x80000018, 'a Windows container layer (WCI)'],
  [0xffffffff, 0x8000001b, 'an app execution alias'],
  [0xffffffff, 0x80000023, 'a WSL Unix socket'],
  [0xffffffff, 0x80000024, 'a WSL FIFO'],
  [0xffffffff, 0x80000025, 'a WSL character device'],
  [0xffffffff, 0x80000026, 'a WSL block device'],
  [0xffffffff, 0x80000014, 'an NFS special file'],
  [0xffffffff, 0x8000000a, 'a DFS link'],
  [0xffffffff, 0x80000012, 'a DFS-R file'],
];

const hex = (tag: number): string => `0x${tag.toString(16).padStart(8, '0')}`;

/** A reparse tag in words, for a refusal. */
export function reparseTagName(tag: number): string {
  const known = KNOWN_TAGS.find(([mask, value]) => (tag & mask) >>> 0 === value);
  return known ? `${known[2]}, reparse tag ${hex(tag)}` : `a reparse point with tag ${hex(tag)}`;
}

/** `\??\C:\x` (an NT path) reads as `C:\x`; `\??\UNC\server\share` as `\\server\share`. */
function withoutNtPrefix(path: string): string {
  if (/^\\\?\?\\UNC\\/i.test(path)) return `\\\\${path.slice(8)}`;
  return path.replace(/^\\(\?\?|\\\?)\\/, '');
}

/** The link's target as a path: relative links with '/' (they resolve on any system), absolute
 * ones as Windows wrote them (the print name, else the substitute name without `\??\`). */
function nameTarget(data: Buffer, header: number, relative: boolean): string {
  if (data.length < header) corrupt('NTFS reparse point is shorter than its header');
  const field = (at: number): string => {
    const offset = data.readUInt16LE(at);
    const length = data.readUInt16LE(at + 2);
    if (length % 2 !== 0 || header + offset + length > data.length) corrupt('NTFS reparse point names run past its data');
    return data.toString('utf16le', header + offset, header + offset + length).replace(/\0+$/, '');
  };
  const substitute = field(0);
  const print = field(4);
  if (relative) return (substitute || print).replaceAll('\\', '/');
  const target = print || withoutNtPrefix(substitute);
  if (target === '') corrupt('NTFS reparse point names no target');
  return target;
}

export function parseReparsePoint(value: Buffer): Reparse {
  if (value.length < 8) corrupt('NTFS reparse point is too short');
  const tag = value.readUInt32LE(0);
  const length = value.readUInt16LE(4);
  if (8 + length > value.length) corrupt('NTFS reparse point data runs past its attribute');
  const data = value.subarray(8, 8 + length);
  if (tag === TAG_SYMLINK) {
    if (data.length < 12) corrupt('NTFS symbolic link reparse point is too short');
    return { tag, target: nameTarget(data, 12, (data.readUInt32LE(8) & SYMLINK_RELATIVE) !== 0) };
  }
  if (tag === TAG_MOUNT_POINT) return { tag, target: nameTarget(data, 8, false) };
  if (tag === TAG_LX_SYMLINK) {
    if (data.length < 5) corrupt('NTFS WSL symbolic link reparse point is too short');
    return { tag, target: data.toString('utf8', 4) };
  }
  return { tag, target: null, what: reparseTagName(tag) };
}
