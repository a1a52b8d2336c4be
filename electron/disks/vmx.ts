// The VMware .vmx file: a dictionary of `key = "value"` lines, read as VMware reads it: keys are
// case-insensitive and the last of duplicate keys wins; `#` comments and blank lines; values
// quoted (bytes escaped as |XX, so |22 is `"` and |7C is `|`; a backslash is an ordinary
// character, as in Windows paths) or, in old files, unquoted; LF or CRLF line ends; a UTF-8 BOM.
// We read the display name and the virtual disks, and rewrite names and disk files for a
// restore while keeping every other line byte for byte.
import { LifeboatError } from '../errors.ts';

export type VmxDisk = { key: string; fileName: string };
export type Vmx = {
  /** The file's lines as they were (without line ends or BOM). */
  lines: string[];
  /** Every key in lower case with its unescaped value; the last line of a key wins. */
  entries: Map<string, string>;
  displayName: string;
  uuid: string | null;
  disks: VmxDisk[];
  /** How the file ended its lines and whether it began with a BOM, kept when it is rewritten. */
  newline: '\n' | '\r\n';
  bom: boolean;
};

export const VMX_MAX_BYTES = 1024 * 1024;
const BOM = '\uFEFF';
const diskFileKey = /^((scsi|sata|ide|nvme)(\d+):(\d+))\.filename$/;
/** Device types that name an image or a host device, never a virtual disk of the VM. */
const notDiskType = /cdrom|atapi|passthru|floppy/;

type Line = { kind: 'blank' } | { kind: 'entry'; key: string; rawKey: string; value: string };

function invalid(label: string, why: string): never {
  throw new LifeboatError('invalid-source', `${label}: ${why}`);
}

/** Decodes a .vmx file's bytes: UTF-8 unless its `.encoding` line names another charset that
 * VMware writes (old Windows hosts: windows-1252, Shift_JIS...). The result is the text. */
export function decodeVmxBytes(bytes: Uint8Array, label: string): string {
  if (bytes.length > VMX_MAX_BYTES) invalid(label, '.vmx is larger than 1 MiB');
  if (bytes.includes(0)) invalid(label, '.vmx contains NUL bytes; it is not a text file');
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  const declared = /^(?:\uFEFF|\xEF\xBB\xBF)?[ \t]*\.encoding[ \t]*=[ \t]*"([^"\r\n]{1,40})"/im.exec(head)?.[1] ?? 'UTF-8';
  let decoder: TextDecoder;
  try {
    // The BOM stays in the text (ignoreBOM keeps it), so a restore writes the file back as it was.
    decoder = new TextDecoder(declared, { fatal: true, ignoreBOM: true });
  } catch {
    return invalid(label, `.encoding "${declared}" is not a character set this system can read`);
  }
  try {
    return decoder.decode(bytes);
  } catch {
    return invalid(label, `.vmx is not valid ${declared} text`);
  }
}

/** The value's |XX escapes turned back into the bytes they stand for (UTF-8 text). */
export function unescapeVmxValue(value: string): string {
  if (!value.includes('|')) return value;
  const bytes: number[] = [];
  const source = Buffer.from(value, 'utf8');
  for (let at = 0; at < source.length; at++) {
    const byte = source[at] as number;
    const hex = byte === 0x7c ? source.toString('latin1', at + 1, at + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      at += 2;
    } else {
      bytes.push(byte);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** A value as VMware writes it: `"`, `|`, `#` and control characters escaped as |XX. */
export function escapeVmxValue(value: string): string {
  let out = '';
  for (const char of value) {
    const code = char.codePointAt(0) as number;
    out +=
      char === '"' || char === '|' || char === '#' || code < 0x20 || code === 0x7f
        ? `|${code.toString(16).toUpperCase().padStart(2, '0')}`
        : char;
  }
  return out;
}

/** One line: blank or comment, or an entry. Hand-written (no backtracking) so any line parses
 * in time linear in its length. */
function parseLine(raw: string): Line | null {
  const text = raw.trim();
  if (text === '' || text.startsWith('#')) return { kind: 'blank' };
  const equals = text.indexOf('=');
  if (equals <= 0) return null;
  const rawKey = text.slice(0, equals).trim();
  if (!/^[^\s"#=]+$/.test(rawKey)) return null;
  const rest = text.slice(equals + 1).trim();
  if (!rest.startsWith('"')) {
    // Unquoted (old files): up to a comment.
    const hash = rest.indexOf('#');
    return { kind: 'entry', key: rawKey.toLowerCase(), rawKey, value: (hash < 0 ? rest : rest.slice(0, hash)).trim() };
  }
  const close = rest.indexOf('"', 1);
  if (close < 0) return null;
  const after = rest.slice(close + 1).trim();
  if (after !== '' && !after.startsWith('#')) return null;
  return { kind: 'entry', key: rawKey.toLowerCase(), rawKey, value: unescapeVmxValue(rest.slice(1, close)) };
}

function splitLines(text: string): { lines: string[]; newline: '\n' | '\r\n'; bom: boolean } {
  const bom = text.startsWith(BOM);
  const body = bom ? text.slice(1) : text;
  const newline = body.includes('\r\n') ? '\r\n' : '\n';
  return { lines: body.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)), newline, bom };
}

function isFalse(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'false';
}

/** The virtual disks the VM uses: present devices whose backing is a disk file in the VM folder.
 * CD-ROM and floppy images, host devices and absent devices are not disks to back up. */
function disksOf(entries: Map<string, string>, label: string): VmxDisk[] {
  const disks: VmxDisk[] = [];
  for (const [key, value] of entries) {
    const match = diskFileKey.exec(key);
    if (!match) continue;
    const device = match[1] as string;
    const controller = `${match[2]}${match[3]}`;
    if (isFalse(entries.get(`${device}.present`)) || isFalse(entries.get(`${controller}.present`))) continue;
    const type = entries.get(`${device}.devicetype`)?.toLowerCase() ?? '';
    if (notDiskType.test(type) || value.toLowerCase().endsWith('.iso')) continue;
    if (value === '') invalid(label, `disk ${device} has no file name`);
    if (value.includes('/') || value.includes('\\'))
      invalid(label, `disk ${device} lives outside the VM folder (${value}); only disks in the VM folder are backed up`);
    disks.push({ key: device, fileName: value });
  }
  return disks;
}

export function parseVmx(text: string, label: string): Vmx {
  if (text.length > VMX_MAX_BYTES) invalid(label, '.vmx is larger than 1 MiB');
  if (text.includes('\0')) invalid(label, '.vmx contains NUL bytes; it is not a text file');
  const { lines, newline, bom } = splitLines(text);
  const entries = new Map<string, string>();
  lines.forEach((raw, index) => {
    const parsed = parseLine(raw);
    if (!parsed) invalid(label, `line ${index + 1} is not of the form key = "value"`);
    if (parsed.kind === 'entry') entries.set(parsed.key, parsed.value);
  });
  const disks = disksOf(entries, label);
  if (disks.length === 0) invalid(label, 'the VM has no virtual disks');
  const displayName = entries.get('displayname') ?? '';
  if (!displayName) invalid(label, 'no displayName');
  return { lines, entries, displayName, uuid: entries.get('uuid.bios') ?? null, disks, newline, bom };
}

/** Rewrites the .vmx for a restore: new display name and disk file names; identity lines are
 * dropped when the VM gets a new name so the hypervisor gives the copy its own. Every other
 * line is kept as it was; the text is UTF-8 now, and says so. */
export function rewriteVmx(vmx: Vmx, changes: { displayName: string; diskFiles: Map<string, string>; newIdentity: boolean }): string {
  const identityKeys = new Set(['uuid.bios', 'uuid.location', 'vc.uuid']);
  const out: string[] = [];
  for (const raw of vmx.lines) {
    const parsed = parseLine(raw);
    if (parsed?.kind !== 'entry') {
      out.push(raw);
      continue;
    }
    const { key, rawKey } = parsed;
    if (changes.newIdentity && identityKeys.has(key)) continue;
    const disk = diskFileKey.exec(key);
    const replacement =
      key === 'displayname'
        ? changes.displayName
        : key === '.encoding' && parsed.value.toUpperCase() !== 'UTF-8'
          ? 'UTF-8'
          : disk
            ? changes.diskFiles.get(disk[1] as string)
            : undefined;
    out.push(replacement === undefined ? raw : `${rawKey} = "${escapeVmxValue(replacement)}"`);
  }
  return `${vmx.bom ? BOM : ''}${out.join(vmx.newline)}`;
}

/** The key a VM encrypted by the platform (vSphere VM encryption) is sealed with: its key
 * provider (KMS cluster) and key id, read from `encryption.keySafe`. A restore keeps these
 * references; the backup holds the disks as the platform stored them. */
export type PlatformKey = { providerId: string; keyId: string; keySafe: string };

export function platformKeyOf(vmx: Vmx): PlatformKey | null {
  const keySafe = vmx.entries.get('encryption.keysafe');
  if (!keySafe) return null;
  // The key safe itself percent-encodes ('-' as %2d); the .vmx escapes are already undone.
  let text: string;
  try {
    text = decodeURIComponent(keySafe);
  } catch {
    text = keySafe;
  }
  const match = /fqid\/<[^>]*>\/([^/,()]+)\/([^/,()]+)/.exec(text);
  return match ? { providerId: match[1] as string, keyId: match[2] as string, keySafe } : null;
}
