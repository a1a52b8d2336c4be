// Snapshot chains for tests. qemu-img makes the hosted ones; ESXi's vmfsSparse (COWD) delta
// qemu reads but cannot make, so writeCowdDelta lays one out as the format describes (header,
// grain directory, 4096-entry grain tables, one-sector grains) and qemu judges it by reading it.
import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectDiskFormat } from '../../electron/disks/open-disk.ts';
import { qemuImg, writeMixedRaw } from './env.ts';

const SECTOR = 512;
const COWD_GTES = 4096;

export type Subformat = 'monolithicSparse' | 'twoGbMaxExtentSparse' | 'monolithicFlat' | 'twoGbMaxExtentFlat' | 'streamOptimized';

/** A VM folder `folderName` in `dir` whose base disk web.vmdk holds a guest-like mix of data and holes. */
export async function baseVm(dir: string, folderName: string, subformat: Subformat, mib = 8, seed = 2): Promise<string> {
  const folder = join(dir, folderName);
  await mkdir(folder, { recursive: true });
  const raw = join(dir, `${folderName}.raw`);
  await writeMixedRaw(raw, mib, seed);
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, join(folder, 'web.vmdk'));
  await rm(raw);
  return folder;
}

/** Takes a snapshot the way qemu does: a new delta over `parent`, named by a relative hint. */
export function snapshot(folder: string, parent: string, child: string, subformat: Subformat, extra = ''): void {
  qemuImg('create', '-f', 'vmdk', '-o', `subformat=${subformat}${extra}`, '-b', parent, '-F', 'vmdk', join(folder, child));
}

export function qemuIo(path: string, ...commands: string[]): void {
  execFileSync('qemu-io', ['-f', 'vmdk', ...commands.flatMap((command) => ['-c', command]), path], { stdio: 'ignore' });
}

/** Rewrites a VMDK's descriptor text: a descriptor file, or the one a monolithicSparse file
 * carries in its reserved sectors (padded with NULs, as VMware does). */
export async function editDescriptor(path: string, edit: (text: string) => string): Promise<void> {
  if ((await detectDiskFormat(path)) === 'vmdk-descriptor') {
    await writeFile(path, edit(await readFile(path, 'latin1')), 'latin1');
    return;
  }
  const handle = await open(path, 'r+');
  try {
    const header = Buffer.alloc(SECTOR);
    await handle.read(header, 0, SECTOR, 0);
    const at = Number(header.readBigUInt64LE(28)) * SECTOR;
    const room = Number(header.readBigUInt64LE(36)) * SECTOR;
    const old = Buffer.alloc(room);
    await handle.read(old, 0, room, at);
    const end = old.indexOf(0);
    const text = Buffer.from(edit(old.subarray(0, end === -1 ? room : end).toString('latin1')), 'latin1');
    if (text.length > room) throw new Error(`edited descriptor does not fit in ${room} bytes`);
    const padded = Buffer.alloc(room);
    text.copy(padded);
    await handle.write(padded, 0, room, at);
  } finally {
    await handle.close();
  }
}

export function setDescriptorKey(key: string, value: string): (text: string) => string {
  return (text) => text.replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${value}`);
}

/** The CID a VMDK's descriptor records. */
export async function cidOf(path: string): Promise<string> {
  let cid = '';
  await editDescriptor(path, (text) => {
    cid = /^CID=([0-9a-f]{1,8})$/m.exec(text)?.[1] ?? '';
    return text;
  });
  if (!cid) throw new Error(`${path} has no CID`);
  return cid;
}

/** An ESXi vmfsSparse delta: `<stem>.vmdk` (descriptor) over `<stem>-delta.vmdk` (COWD). Only
 * the sectors in `writes` are the delta's own; every other sector shows its parent's. */
export async function writeCowdDelta(
  folder: string,
  stem: string,
  options: { capacity: number; parentHint: string; parentCid: string; grainSectors?: number; writes: { offset: number; data: Buffer }[] },
): Promise<void> {
  const grainSectors = options.grainSectors ?? 1;
  const grainBytes = grainSectors * SECTOR;
  const sectors = options.capacity / SECTOR;
  const gdEntries = Math.ceil(sectors / (grainSectors * COWD_GTES));
  const gdSector = 4;
  const gdBytes = Math.ceil((gdEntries * 4) / SECTOR) * SECTOR;
  const directory = new Uint32Array(gdEntries);
  const tables = new Map<number, Uint32Array>();
  const grains = new Map<number, Buffer>();
  for (const { offset, data } of options.writes) {
    // ESXi copies a partly written grain from the parent first; whole grains keep this honest.
    if (offset % grainBytes !== 0 || data.length % grainBytes !== 0) throw new Error('COWD test writes must cover whole grains');
    for (let position = offset; position < offset + data.length; position++) {
      const grain = Math.floor(position / grainBytes);
      let bytes = grains.get(grain);
      if (!bytes) grains.set(grain, (bytes = Buffer.alloc(grainBytes)));
      bytes[position - grain * grainBytes] = data[position - offset] as number;
    }
  }
  let next = gdSector + gdBytes / SECTOR;
  for (const grain of [...grains.keys()].sort((a, b) => a - b)) {
    const tableIndex = Math.floor(grain / COWD_GTES);
    if (!tables.has(tableIndex)) {
      tables.set(tableIndex, new Uint32Array(COWD_GTES));
      directory[tableIndex] = next;
      next += (COWD_GTES * 4) / SECTOR;
    }
  }
  const chunks: { sector: number; bytes: Buffer }[] = [];
  for (const [grain, bytes] of [...grains].sort((a, b) => a[0] - b[0])) {
    (tables.get(Math.floor(grain / COWD_GTES)) as Uint32Array)[grain % COWD_GTES] = next;
    chunks.push({ sector: next, bytes });
    next += grainSectors;
  }
  const header = Buffer.alloc(2048);
  header.write('COWD', 0, 'latin1');
  header.writeUInt32LE(1, 4); // version
  header.writeUInt32LE(3, 8); // flags
  header.writeUInt32LE(sectors, 12);
  header.writeUInt32LE(grainSectors, 16);
  header.writeUInt32LE(gdSector, 20);
  header.writeUInt32LE(gdEntries, 24);
  header.writeUInt32LE(next, 28); // next free sector
  header.write(options.parentHint, 32, 'latin1'); // the parent's name, as ESXi also records it here
  const handle = await open(`${folder}/${stem}-delta.vmdk`, 'w');
  try {
    await handle.write(header, 0, header.length, 0);
    await handle.write(Buffer.from(directory.buffer), 0, gdEntries * 4, gdSector * SECTOR);
    for (const [tableIndex, table] of tables)
      await handle.write(Buffer.from(table.buffer), 0, COWD_GTES * 4, (directory[tableIndex] as number) * SECTOR);
    for (const chunk of chunks) await handle.write(chunk.bytes, 0, chunk.bytes.length, chunk.sector * SECTOR);
    await handle.truncate(next * SECTOR);
  } finally {
    await handle.close();
  }
  const descriptor = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    'CID=3c5e7a91',
    `parentCID=${options.parentCid}`,
    'isNativeSnapshot="no"',
    'createType="vmfsSparse"',
    `parentFileNameHint="${options.parentHint}"`,
    '# Extent description',
    `RW ${sectors} VMFSSPARSE "${stem}-delta.vmdk"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.longContentID = "0b3f27c5d1a2e4f60718293a3c5e7a91"',
    '',
  ].join('\n');
  await writeFile(`${folder}/${stem}.vmdk`, descriptor);
}

/** Rewrites a streamOptimized file the way VMware's exporters lay it out: the header at the
 * start says "grain directory at the end" and the real header follows a footer marker there. */
export async function moveHeaderToFooter(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const header = Buffer.alloc(SECTOR);
    await handle.read(header, 0, SECTOR, 0);
    const { size } = await handle.stat();
    const end = Math.ceil(size / SECTOR) * SECTOR;
    const footerMarker = Buffer.alloc(SECTOR);
    footerMarker.writeUInt32LE(3, 12); // MARKER_FOOTER
    const endOfStream = Buffer.alloc(SECTOR); // MARKER_EOS: all zero
    await handle.write(Buffer.concat([footerMarker, header, endOfStream]), 0, 3 * SECTOR, end);
    const atEnd = Buffer.alloc(8, 0xff);
    await handle.write(atEnd, 0, 8, 56);
  } finally {
    await handle.close();
  }
}

const SESPARSE_GRAIN = 4096;
const SESPARSE_GTES = 4096;

/** An ESXi seSparse delta: `<stem>.vmdk` (descriptor) over `<stem>-sesparse.vmdk`. `writes` are
 * the delta's own 4 KiB grains; `zeroed` and `unmapped` offsets get grains that read as zeros.
 * Grains are stored in reverse order of their place on the disk, so the file's grain numbers are
 * not the disk's and the format's rotated grain numbering is exercised past 4096. */
export async function writeSeSparseDelta(
  folder: string,
  stem: string,
  options: {
    capacity: number;
    parentHint: string;
    parentCid: string;
    writes: { offset: number; data: Buffer }[];
    zeroed?: number[];
    unmapped?: number[];
  },
): Promise<void> {
  const sectors = options.capacity / SECTOR;
  const grains = new Map<number, Buffer>(); // disk grain index → bytes
  for (const { offset, data } of options.writes) {
    if (offset % SESPARSE_GRAIN !== 0 || data.length % SESPARSE_GRAIN !== 0)
      throw new Error('seSparse test writes must cover whole 4 KiB grains');
    for (let at = 0; at < data.length; at += SESPARSE_GRAIN)
      grains.set((offset + at) / SESPARSE_GRAIN, data.subarray(at, at + SESPARSE_GRAIN));
  }
  const entries = new Map<number, bigint>(); // disk grain index → grain table entry
  const stored = [...grains.keys()].sort((a, b) => b - a);
  stored.forEach((grain, number) => {
    const rotated = (BigInt(number & 0xfff) << 48n) | BigInt(Math.floor(number / 4096));
    entries.set(grain, (3n << 60n) | rotated);
  });
  for (const offset of options.zeroed ?? []) entries.set(offset / SESPARSE_GRAIN, 2n << 60n);
  for (const offset of options.unmapped ?? []) entries.set(offset / SESPARSE_GRAIN, 1n << 60n);
  const gdEntries = Math.ceil(sectors / (8 * SESPARSE_GTES));
  const gdSectors = Math.ceil((gdEntries * 8) / SECTOR);
  const tableIndexes = [...new Set([...entries.keys()].map((grain) => Math.floor(grain / SESPARSE_GTES)))].sort((a, b) => a - b);
  const gdSector = 2;
  const tablesSector = gdSector + gdSectors;
  const grainsSector = tablesSector + tableIndexes.length * 64;
  const constHeader = Buffer.alloc(SECTOR);
  const fields: [number, bigint][] = [
    [0, 0xcafebaben],
    [1, 0x200000001n],
    [2, BigInt(sectors)],
    [3, 8n],
    [4, 64n],
    [10, 1n],
    [11, 1n],
    [16, BigInt(gdSector)],
    [17, BigInt(gdSectors)],
    [18, BigInt(tablesSector)],
    [19, BigInt(tableIndexes.length * 64)],
    [24, BigInt(grainsSector)],
    [25, BigInt(stored.length * 8)],
  ];
  for (const [index, value] of fields) constHeader.writeBigUInt64LE(value, index * 8);
  const volatileHeader = Buffer.alloc(SECTOR);
  volatileHeader.writeBigUInt64LE(0xcafecafen, 0);
  const directory = Buffer.alloc(gdSectors * SECTOR);
  const tables = Buffer.alloc(tableIndexes.length * 64 * SECTOR);
  tableIndexes.forEach((tableIndex, number) => directory.writeBigUInt64LE(0x1000000000000000n | BigInt(number), tableIndex * 8));
  for (const [grain, entry] of entries) {
    const number = tableIndexes.indexOf(Math.floor(grain / SESPARSE_GTES));
    tables.writeBigUInt64LE(entry, number * 64 * SECTOR + (grain % SESPARSE_GTES) * 8);
  }
  const data = Buffer.concat(stored.map((grain) => grains.get(grain) as Buffer));
  await writeFile(`${folder}/${stem}-sesparse.vmdk`, Buffer.concat([constHeader, volatileHeader, directory, tables, data]));
  const descriptor = [
    '# Disk DescriptorFile',
    'version=1',
    'encoding="UTF-8"',
    'CID=5d1e9a07',
    `parentCID=${options.parentCid}`,
    'isNativeSnapshot="no"',
    'createType="seSparse"',
    `parentFileNameHint="${options.parentHint}"`,
    '# Extent description',
    `RW ${sectors} SESPARSE "${stem}-sesparse.vmdk"`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.grain = "8"',
    'ddb.longContentID = "9c2a51e04f7d3b68a1e2c3d45d1e9a07"',
    '',
  ].join('\n');
  await writeFile(`${folder}/${stem}.vmdk`, descriptor);
}
