// The VMware .vmx file: `key = "value"` lines. We read the display name and the virtual disks,
// and rewrite names and disk files for a restore while keeping every other line as it was.
import { LifeboatError } from '../errors.ts';

export type VmxDisk = { key: string; fileName: string };
export type Vmx = { lines: string[]; entries: Map<string, string>; displayName: string; uuid: string | null; disks: VmxDisk[] };

export const VMX_MAX_BYTES = 1024 * 1024;
const line = /^\s*([A-Za-z0-9_:.\-]+)\s*=\s*"((?:[^"\\|]|\|[0-9A-Fa-f]{2})*)"\s*$/;
const diskFileKey = /^((?:scsi|sata|ide|nvme)\d+:\d+)\.filename$/;

export function parseVmx(text: string, label: string): Vmx {
  if (text.length > VMX_MAX_BYTES) throw new LifeboatError('invalid-source', `${label}: .vmx is larger than 1 MiB`);
  if (text.includes('\0')) throw new LifeboatError('invalid-source', `${label}: .vmx contains NUL bytes; it is not a text file`);
  const lines = text.split(/\r?\n/);
  const entries = new Map<string, string>();
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith('.encoding')) return;
    const match = line.exec(raw);
    if (!match) throw new LifeboatError('invalid-source', `${label}: line ${index + 1} is not of the form key = "value"`);
    entries.set((match[1] as string).toLowerCase(), match[2] as string);
  });
  const disks: VmxDisk[] = [];
  for (const [key, value] of entries) {
    const match = diskFileKey.exec(key);
    if (!match) continue;
    const device = match[1] as string;
    if (entries.get(`${device}.present`)?.toLowerCase() === 'false') continue;
    const type = entries.get(`${device}.devicetype`)?.toLowerCase() ?? '';
    if (type.includes('cdrom') || value.toLowerCase().endsWith('.iso')) continue;
    if (value.includes('/') || value.includes('\\')) {
      throw new LifeboatError('invalid-source', `${label}: disk ${device} lives outside the VM folder (${value}); only disks in the VM folder are backed up`);
    }
    disks.push({ key: device, fileName: value });
  }
  if (disks.length === 0) throw new LifeboatError('invalid-source', `${label}: the VM has no virtual disks`);
  const displayName = entries.get('displayname') ?? '';
  if (!displayName) throw new LifeboatError('invalid-source', `${label}: no displayName`);
  return { lines, entries, displayName, uuid: entries.get('uuid.bios') ?? null, disks };
}

/** Rewrites the .vmx for a restore: new display name and disk file names; identity lines are
 * dropped when the VM gets a new name so the hypervisor gives the copy its own. */
export function rewriteVmx(vmx: Vmx, changes: { displayName: string; diskFiles: Map<string, string>; newIdentity: boolean }): string {
  const identityKeys = new Set(['uuid.bios', 'uuid.location', 'vc.uuid']);
  const out: string[] = [];
  for (const raw of vmx.lines) {
    const match = line.exec(raw);
    if (!match) {
      out.push(raw);
      continue;
    }
    const key = (match[1] as string).toLowerCase();
    if (changes.newIdentity && identityKeys.has(key)) continue;
    if (key === 'displayname') {
      out.push(`displayName = "${changes.displayName}"`);
      continue;
    }
    const disk = diskFileKey.exec(key);
    const renamed = disk ? changes.diskFiles.get(disk[1] as string) : undefined;
    out.push(renamed ? `${match[1]} = "${renamed}"` : raw);
  }
  return out.join('\n');
}

/** The key a VM encrypted by the platform (vSphere VM encryption) is sealed with: its key
 * provider (KMS cluster) and key id, read from `encryption.keySafe`. A restore keeps these
 * references; the backup holds the disks as the platform stored them. */
export type PlatformKey = { providerId: string; keyId: string; keySafe: string };

export function platformKeyOf(vmx: Vmx): PlatformKey | null {
  const keySafe = vmx.entries.get('encryption.keysafe');
  if (!keySafe) return null;
  // .vmx escapes bytes as |XX; the key safe itself percent-encodes ('-' as %2d).
  const decoded = keySafe.replace(/\|([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  let text: string;
  try {
    text = decodeURIComponent(decoded);
  } catch {
    text = decoded;
  }
  const match = /fqid\/<[^>]*>\/([^/,()]+)\/([^/,()]+)/.exec(text);
  return match ? { providerId: match[1] as string, keyId: match[2] as string, keySafe } : null;
}
