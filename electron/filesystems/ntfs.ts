// NTFS read-only: the boot sector's geometry, MFT records with their update-sequence fixups,
// resident and non-resident attributes (runlists), attribute lists (extension records),
// directories from $INDEX_ROOT and every INDX block of $INDEX_ALLOCATION, long (Win32) names,
// and unnamed $DATA streams. Compressed and encrypted files are refused with a reason.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { FolderTrail, findNamed, splitPath, type FileSystem, type FsEntry, type VolumeNote } from './file-system.ts';

const ROOT_RECORD = 5;
const VOLUME_RECORD = 3;
const VOLUME_DIRTY = 0x0001;
const MAX_RUNS = 100_000;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const FILETIME_EPOCH = 11_644_473_600_000; // ms between 1601-01-01 and 1970-01-01

const bad = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `not a usable NTFS file system (${why})`);
};

export type NtfsGeometry = {
  sectorBytes: number;
  clusterBytes: number;
  mftOffset: number;
  recordBytes: number;
  indexBytes: number;
  totalBytes: number;
};

export function parseNtfsBootSector(boot: Buffer, volumeBytes: number): NtfsGeometry {
  if (boot.length < 512 || boot.toString('latin1', 3, 11) !== 'NTFS    ') bad('no NTFS signature');
  const sectorBytes = boot.readUInt16LE(11);
  if (![512, 1024, 2048, 4096].includes(sectorBytes)) bad(`sector size ${sectorBytes}`);
  const rawCluster = boot[13] as number;
  const clusterBytes = rawCluster > 0x80 ? sectorBytes * 2 ** (256 - rawCluster) : sectorBytes * rawCluster;
  if (clusterBytes < sectorBytes || clusterBytes > 2 * 1024 * 1024) bad(`cluster size ${clusterBytes}`);
  const sizeOf = (value: number): number => (value >= 0x80 ? 2 ** (256 - value) : value * clusterBytes);
  const recordBytes = sizeOf(boot[64] as number);
  const indexBytes = sizeOf(boot[68] as number);
  if (recordBytes < 512 || recordBytes > 65536 || indexBytes < 512 || indexBytes > 65536) bad('record sizes');
  const totalBytes = Number(boot.readBigUInt64LE(40)) * sectorBytes;
  const mftOffset = Number(boot.readBigUInt64LE(48)) * clusterBytes;
  if (!Number.isSafeInteger(mftOffset) || mftOffset <= 0 || mftOffset + recordBytes > volumeBytes) bad('the MFT lies outside the volume');
  return { sectorBytes, clusterBytes, mftOffset, recordBytes, indexBytes, totalBytes };
}

/** Applies the update sequence: the last two bytes of every sector come back from the array. */
export function applyFixups(record: Buffer, signature: string, sectorBytes: number): Buffer {
  if (record.toString('latin1', 0, 4) !== signature)
    throw new LifeboatError('corrupt-disk', `NTFS ${signature} record without its signature`);
  const offset = record.readUInt16LE(4);
  const count = record.readUInt16LE(6);
  if (count < 1 || offset + count * 2 > record.length || (count - 1) * sectorBytes > record.length)
    throw new LifeboatError('corrupt-disk', `NTFS ${signature} record has a damaged update sequence`);
  const usn = record.readUInt16LE(offset);
  for (let i = 1; i < count; i++) {
    const end = i * sectorBytes - 2;
    if (record.readUInt16LE(end) !== usn)
      throw new LifeboatError('corrupt-disk', `NTFS ${signature} record is torn (sector ${i} does not match its update sequence)`);
    record.writeUInt16LE(record.readUInt16LE(offset + i * 2), end);
  }
  return record;
}

export type Run = { vcn: number; lcn: number | null; length: number };

/** Decodes a runlist; a run with no offset is sparse (lcn null). */
export function decodeRuns(bytes: Buffer, at: number, startVcn: number): Run[] {
  const runs: Run[] = [];
  let vcn = startVcn;
  let lcn = 0;
  while (at < bytes.length && bytes[at] !== 0) {
    const header = bytes[at] as number;
    const lengthSize = header & 0x0f;
    const offsetSize = header >> 4;
    if (lengthSize === 0 || lengthSize > 8 || offsetSize > 8 || at + 1 + lengthSize + offsetSize > bytes.length)
      throw new LifeboatError('corrupt-disk', 'NTFS runlist is damaged');
    let length = 0;
    for (let i = lengthSize - 1; i >= 0; i--) length = length * 256 + (bytes[at + 1 + i] as number);
    let offset = 0;
    if (offsetSize > 0) {
      for (let i = offsetSize - 1; i >= 0; i--) offset = offset * 256 + (bytes[at + 1 + lengthSize + i] as number);
      if ((bytes[at + lengthSize + offsetSize] as number) & 0x80) offset -= 2 ** (8 * offsetSize);
      lcn += offset;
    }
    if (!Number.isSafeInteger(length) || length <= 0 || lcn < 0)
      throw new LifeboatError('corrupt-disk', 'NTFS runlist has an impossible run');
    runs.push({ vcn, lcn: offsetSize > 0 ? lcn : null, length });
    vcn += length;
    at += 1 + lengthSize + offsetSize;
    if (runs.length > MAX_RUNS) throw new LifeboatError('corrupt-disk', 'NTFS runlist is too long');
  }
  return runs;
}

type Attribute = {
  type: number;
  name: string;
  flags: number;
  resident: Buffer | null;
  runs: Run[];
  dataSize: number;
  initializedSize: number;
  startVcn: number;
};

const MAX_EXTENSION_RECORDS = 256;

/** Records named in an $ATTRIBUTE_LIST value (the file's attributes that live elsewhere). */
export function parseAttributeList(value: Buffer): number[] {
  const records = new Set<number>();
  for (let at = 0, guard = 0; at + 26 <= value.length && guard < 65536; guard++) {
    const length = value.readUInt16LE(at + 4);
    if (length < 26 || at + length > value.length) throw new LifeboatError('corrupt-disk', 'NTFS attribute list is damaged');
    records.add(Number(value.readBigUInt64LE(at + 16) & 0xffffffffffffn));
    at += length;
  }
  return [...records];
}

export function parseAttributes(record: Buffer): Attribute[] {
  const attributes: Attribute[] = [];
  let at = record.readUInt16LE(20);
  for (let guard = 0; guard < 512 && at + 16 <= record.length; guard++) {
    const type = record.readUInt32LE(at);
    if (type === 0xffffffff) break;
    const length = record.readUInt32LE(at + 4);
    if (length < 16 || at + length > record.length) throw new LifeboatError('corrupt-disk', 'NTFS attribute runs past its record');
    const nameLength = record[at + 9] as number;
    const nameOffset = record.readUInt16LE(at + 10);
    const name = record.toString('utf16le', at + nameOffset, at + nameOffset + nameLength * 2);
    const flags = record.readUInt16LE(at + 12);
    const resident = (record[at + 8] as number) === 0;
    if (length < (resident ? 24 : 64)) throw new LifeboatError('corrupt-disk', 'NTFS attribute is shorter than its header');
    if (resident) {
      const valueLength = record.readUInt32LE(at + 16);
      const valueOffset = record.readUInt16LE(at + 20);
      if (valueOffset + valueLength > length) throw new LifeboatError('corrupt-disk', 'NTFS resident value runs past its attribute');
      const value = record.subarray(at + valueOffset, at + valueOffset + valueLength);
      attributes.push({ type, name, flags, resident: value, runs: [], dataSize: valueLength, initializedSize: valueLength, startVcn: 0 });
    } else {
      const runsOffset = record.readUInt16LE(at + 32);
      const dataSize = Number(record.readBigUInt64LE(at + 48));
      const initializedSize = Number(record.readBigUInt64LE(at + 56));
      if (!Number.isSafeInteger(dataSize) || runsOffset >= length)
        throw new LifeboatError('corrupt-disk', 'NTFS non-resident attribute is damaged');
      const startVcn = Number(record.readBigUInt64LE(at + 16));
      attributes.push({
        type,
        name,
        flags,
        resident: null,
        runs: decodeRuns(record.subarray(at, at + length), runsOffset, startVcn),
        dataSize,
        initializedSize: Math.min(initializedSize, dataSize),
        startVcn,
      });
    }
    at += length;
  }
  return attributes;
}

type IndexEntry = { record: number; name: string; namespace: number; isDir: boolean; size: number; mtime: Date };

function fileTime(value: bigint): Date {
  return new Date(Number(value / 10_000n) - FILETIME_EPOCH);
}

/** Entries of an index node (in $INDEX_ROOT or an INDX block), starting at its node header. */
export function parseIndexEntries(bytes: Buffer, nodeHeader: number): IndexEntry[] {
  const entries: IndexEntry[] = [];
  const first = nodeHeader + bytes.readUInt32LE(nodeHeader);
  const end = Math.min(bytes.length, nodeHeader + bytes.readUInt32LE(nodeHeader + 4));
  for (let at = first, guard = 0; at + 16 <= end && guard < 65536; guard++) {
    const length = bytes.readUInt16LE(at + 8);
    const keyLength = bytes.readUInt16LE(at + 10);
    const flags = bytes.readUInt16LE(at + 12);
    if (flags & 0x2) break; // the last entry carries no key
    if (length < 16 || at + length > end || keyLength < 66 || 16 + keyLength > length)
      throw new LifeboatError('corrupt-disk', 'NTFS index entry is damaged');
    const key = at + 16;
    const nameLength = bytes[key + 64] as number;
    if (66 + nameLength * 2 > keyLength) throw new LifeboatError('corrupt-disk', 'NTFS index entry name runs past its key');
    entries.push({
      record: Number(bytes.readBigUInt64LE(at) & 0xffffffffffffn),
      name: bytes.toString('utf16le', key + 66, key + 66 + nameLength * 2),
      namespace: bytes[key + 65] as number,
      isDir: (bytes.readUInt32LE(key + 56) & 0x10000000) !== 0,
      size: Number(bytes.readBigUInt64LE(key + 48)),
      mtime: fileTime(bytes.readBigUInt64LE(key + 16)),
    });
    at += length;
  }
  return entries;
}

export class NtfsFileSystem implements FileSystem {
  readonly kind = 'ntfs' as const;
  readonly label: string;
  readonly notes: VolumeNote[];
  private readonly disk: Disk;
  private readonly geometry: NtfsGeometry;
  private readonly mftRuns: Run[];

  private constructor(disk: Disk, geometry: NtfsGeometry, mftRuns: Run[], label: string, notes: VolumeNote[]) {
    this.disk = disk;
    this.geometry = geometry;
    this.mftRuns = mftRuns;
    this.label = label;
    this.notes = notes;
  }

  static async open(disk: Disk): Promise<NtfsFileSystem> {
    const geometry = parseNtfsBootSector(await disk.read(0, 512), disk.capacity);
    const first = applyFixups(await disk.read(geometry.mftOffset, geometry.recordBytes), 'FILE', geometry.sectorBytes);
    const data = parseAttributes(first).find((attribute) => attribute.type === 0x80 && attribute.name === '');
    if (!data || data.runs.length === 0) bad('$MFT has no data runs');
    const fs = new NtfsFileSystem(disk, geometry, (data as Attribute).runs, '', []);
    const volumeAttributes = parseAttributes(await fs.record(VOLUME_RECORD));
    const name = volumeAttributes.find((attribute) => attribute.type === 0x60);
    const information = volumeAttributes.find((attribute) => attribute.type === 0x70)?.resident;
    // Replaying $LogFile is not done: a dirty volume is shown as its MFT stands, said to be maybe stale.
    const dirty = information != null && information.length >= 12 && (information.readUInt16LE(10) & VOLUME_DIRTY) !== 0;
    const notes = dirty
      ? [{ stale: true, text: 'may be stale: the NTFS volume is marked dirty (not cleanly unmounted) and its $LogFile was not replayed' }]
      : [];
    return new NtfsFileSystem(disk, geometry, (data as Attribute).runs, name?.resident?.toString('utf16le') ?? '', notes);
  }

  /** Bytes of a non-resident attribute from `start`, mapped through its runs (sparse = zeros). */
  private async readRuns(runs: Run[], start: number, length: number): Promise<Buffer> {
    const { clusterBytes } = this.geometry;
    const out = Buffer.alloc(length);
    for (const run of runs) {
      const runStart = run.vcn * clusterBytes;
      const runEnd = runStart + run.length * clusterBytes;
      const from = Math.max(start, runStart);
      const to = Math.min(start + length, runEnd);
      if (from >= to || run.lcn === null) continue;
      const disk = run.lcn * clusterBytes + (from - runStart);
      if (disk + (to - from) > this.disk.capacity) bad('a run points outside the volume');
      (await this.disk.read(disk, to - from)).copy(out, from - start);
    }
    return out;
  }

  private async record(number: number): Promise<Buffer> {
    const { recordBytes, sectorBytes } = this.geometry;
    const bytes = await this.readRuns(this.mftRuns, number * recordBytes, recordBytes);
    const record = applyFixups(bytes, 'FILE', sectorBytes);
    if (!(record.readUInt16LE(22) & 0x1)) throw new LifeboatError('not-found', `MFT record ${number} is not in use`);
    return record;
  }

  /** A file's attributes, including those an $ATTRIBUTE_LIST places in extension records;
   * the extents of one non-resident attribute are joined into one runlist. */
  private async attributesOf(recordNumber: number): Promise<Attribute[]> {
    const base = parseAttributes(await this.record(recordNumber));
    const list = base.find((attribute) => attribute.type === 0x20);
    if (!list) return base;
    const value = list.resident ?? (await this.readRuns(list.runs, 0, Math.min(list.dataSize, 1024 * 1024)));
    const extensions = parseAttributeList(value).filter((record) => record !== recordNumber);
    if (extensions.length > MAX_EXTENSION_RECORDS) bad(`record ${recordNumber} has ${extensions.length} extension records`);
    const all = [...base.filter((attribute) => attribute.type !== 0x20)];
    for (const record of extensions) all.push(...parseAttributes(await this.record(record)));
    const joined = new Map<string, Attribute>();
    for (const attribute of all.sort((a, b) => a.startVcn - b.startVcn)) {
      const key = `${attribute.type}:${attribute.name}`;
      const first = joined.get(key);
      if (!first) joined.set(key, { ...attribute, runs: [...attribute.runs] });
      else if (!first.resident && !attribute.resident) first.runs.push(...attribute.runs);
    }
    return [...joined.values()];
  }

  private async entries(recordNumber: number): Promise<IndexEntry[]> {
    const attributes = await this.attributesOf(recordNumber);
    const root = attributes.find((attribute) => attribute.type === 0x90 && attribute.name === '$I30');
    if (!root?.resident) throw new LifeboatError('bad-request', `MFT record ${recordNumber} is not a folder`);
    const all = parseIndexEntries(root.resident, 16);
    const allocation = attributes.find((attribute) => attribute.type === 0xa0 && attribute.name === '$I30');
    if (allocation) {
      if (allocation.dataSize > MAX_INDEX_BYTES) bad('a folder index is absurdly large');
      const { indexBytes, sectorBytes } = this.geometry;
      const blocks = await this.readRuns(allocation.runs, 0, allocation.dataSize);
      for (let at = 0; at + indexBytes <= blocks.length; at += indexBytes) {
        const block = Buffer.from(blocks.subarray(at, at + indexBytes));
        if (block.toString('latin1', 0, 4) !== 'INDX') continue; // an unused block
        all.push(...parseIndexEntries(applyFixups(block, 'INDX', sectorBytes), 24));
      }
    }
    // One entry per file: its long name, not the DOS 8.3 alias, and no system files.
    const byRecord = new Map<number, IndexEntry>();
    for (const entry of all) {
      if (entry.record < 16 && entry.record !== ROOT_RECORD) continue;
      const known = byRecord.get(entry.record);
      if (!known || known.namespace === 2) byRecord.set(entry.record, entry);
    }
    return [...byRecord.values()].filter((entry) => entry.record !== recordNumber && !entry.name.startsWith('$'));
  }

  private async resolve(path: string): Promise<IndexEntry | null> {
    let current: IndexEntry | null = null;
    let record = ROOT_RECORD;
    const trail = new FolderTrail(path, [ROOT_RECORD]);
    for (const part of splitPath(path)) {
      current = findNamed(await this.entries(record), part, true) ?? null;
      if (!current) throw new LifeboatError('not-found', `${path}: no such file or folder`);
      if (current.isDir) trail.enter(current.record, part);
      record = current.record;
    }
    return current;
  }

  private describe(entry: IndexEntry): FsEntry {
    return { name: entry.name, type: entry.isDir ? 'dir' : 'file', size: entry.isDir ? 0 : entry.size, mtime: entry.mtime, mode: null };
  }

  async list(path: string): Promise<FsEntry[]> {
    const entry = await this.resolve(path);
    if (entry && !entry.isDir) throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
    return (await this.entries(entry ? entry.record : ROOT_RECORD)).map((child) => this.describe(child));
  }

  async stat(path: string): Promise<FsEntry> {
    const entry = await this.resolve(path);
    return entry ? this.describe(entry) : { name: '/', type: 'dir', size: 0, mtime: null, mode: null };
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    const entry = await this.resolve(path);
    if (!entry || entry.isDir) throw new LifeboatError('bad-request', `${path} is not a file`);
    const attributes = await this.attributesOf(entry.record);
    const data = attributes.find((attribute) => attribute.type === 0x80 && attribute.name === '');
    if (!data) bad(`${path} has no data stream`);
    const stream = data as Attribute;
    if (stream.flags & 0x0001) throw new LifeboatError('unavailable', `${path} is NTFS-compressed, which Lifeboat does not read yet`);
    if (stream.flags & 0x4000) throw new LifeboatError('unavailable', `${path} is encrypted (EFS)`);
    if (stream.resident) {
      yield Buffer.from(stream.resident);
      return;
    }
    const chunk = 4 * 1024 * 1024;
    for (let at = 0; at < stream.dataSize; at += chunk) {
      const length = Math.min(chunk, stream.dataSize - at);
      const readable = Math.max(0, Math.min(length, stream.initializedSize - at));
      const bytes = readable > 0 ? await this.readRuns(stream.runs, at, readable) : Buffer.alloc(0);
      yield readable === length ? bytes : Buffer.concat([bytes, Buffer.alloc(length - readable)]);
    }
  }
}
