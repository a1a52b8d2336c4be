// Layers between a partition and a file system that we do not read, recognised so the listing
// names them instead of calling them damaged:
//
//   LUKS1/2     "LUKS\xba\xbe" at byte 0, then a big-endian u16 version
//   BitLocker   "-FVE-FS-" at byte 3 of the boot sector
//   md RAID     magic 0xa92b4efc (LE u32): 1.1 superblock at 0, 1.2 at 4 KiB, 1.0 at
//               ((sectors - 16) & ~7) * 512, 0.90 at the last 64 KiB-aligned 64 KiB block
//               (its level an i32 at byte 28; 1.x: major version 1 at 4, level i32 at 72)
//   Linux swap  "SWAPSPACE2" (or "SWAP-SPACE") in the last 10 bytes of the first page (4, 16 or 64 KiB)
//   Windows dynamic disk  MBR partition type 0x42; GPT LDM metadata / data partition types
//   GPT types that hold no files: Microsoft reserved (MSR), BIOS boot
//
// `gap` is set when the volume may hold files we cannot read (an index gap names it); a volume
// with nothing to read (swap, MSR, BIOS boot) is only described.
import type { Disk } from '../disks/disk.ts';

export type Layer = { what: string; gap: string | null };

const MD_MAGIC = 0xa92b4efc;
const GPT_TYPES: Record<string, Layer> = {
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': { what: 'Microsoft reserved partition (MSR, holds no files)', gap: null },
  '21686148-6449-6E6F-744E-656564454649': { what: 'BIOS boot partition (holds no files)', gap: null },
  '5808C8AA-7E8F-42E0-85D2-E1E90434CFB3': {
    what: 'Windows dynamic disk metadata (LDM)',
    gap: 'Windows dynamic disk (LDM) metadata partition: not read',
  },
  'AF9B60A0-1431-4F62-BC68-3311714A69AD': { what: 'Windows dynamic disk volume (LDM)', gap: 'Windows dynamic disk (LDM) volume: not read' },
};
const MBR_TYPES: Record<string, Layer> = {
  '42': { what: 'Windows dynamic disk volume (LDM)', gap: 'Windows dynamic disk (LDM) volume: not read' },
};

const named = (what: string): Layer => ({ what, gap: `${what}: not read` });

function mdLevel(level: number): string {
  if (level === -1) return 'linear';
  if (level === -4) return 'multipath';
  return `raid${level}`;
}

async function readSafely(disk: Disk, offset: number, length: number): Promise<Buffer | null> {
  if (offset < 0 || offset + length > disk.capacity) return null;
  return disk.read(offset, length);
}

async function probeMd(disk: Disk): Promise<Layer | null> {
  const sectors = Math.floor(disk.capacity / 512);
  const ends = sectors >= 16 ? [{ at: ((sectors - 16) & ~7) * 512, version: '1.0' }] : [];
  const candidates = [{ at: 0, version: '1.1' }, { at: 4096, version: '1.2' }, ...ends];
  for (const { at, version } of candidates) {
    const sb = await readSafely(disk, at, 256);
    if (sb && sb.readUInt32LE(0) === MD_MAGIC && sb.readUInt32LE(4) === 1) {
      const name = sb.toString('latin1', 32, 64).replace(/\0.*$/s, '');
      return named(`md RAID member (metadata ${version}, ${mdLevel(sb.readInt32LE(72))}${name ? `, array "${name}"` : ''})`);
    }
  }
  if (disk.capacity >= 128 * 1024) {
    const at = Math.floor(disk.capacity / 65536) * 65536 - 65536;
    const sb = await readSafely(disk, at, 64);
    if (sb && sb.readUInt32LE(0) === MD_MAGIC && sb.readUInt32LE(4) === 0)
      return named(`md RAID member (metadata 0.90, ${mdLevel(sb.readInt32LE(28))})`);
  }
  return null;
}

async function probeSwap(disk: Disk): Promise<Layer | null> {
  for (const page of [4096, 16384, 65536]) {
    const tail = await readSafely(disk, page - 10, 10);
    const magic = tail?.toString('latin1');
    if (magic === 'SWAPSPACE2' || magic === 'SWAP-SPACE') return { what: 'Linux swap (holds no files)', gap: null };
  }
  return null;
}

/** What a volume is when it is one of these layers, else null. `partitionType` is the GPT type
 * GUID or the MBR type byte in hex, as partitions.ts gives them. */
export async function probeLayer(disk: Disk, partitionType: string | null): Promise<Layer | null> {
  const byType = partitionType === null ? undefined : (GPT_TYPES[partitionType] ?? MBR_TYPES[partitionType]);
  if (byType) return byType;
  const head = await readSafely(disk, 0, 16);
  if (head && head.toString('latin1', 0, 6) === 'LUKS\xba\xbe') return named(`LUKS${head.readUInt16BE(6)} encrypted volume`);
  if (head && head.toString('latin1', 3, 11) === '-FVE-FS-') return named('BitLocker encrypted volume');
  return (await probeMd(disk)) ?? (await probeSwap(disk));
}
