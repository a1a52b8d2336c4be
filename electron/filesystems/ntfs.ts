// NTFS read-only, as Windows and ntfs-3g write it (docs/formats/ntfs.md): the boot sector's
// geometry (512-byte to 4 KiB sectors, MFT records of 1 or 4 KiB), MFT records with their update
// sequence, resident and non-resident attributes (runlists), attribute lists (extension records,
// $MFT's own included), folders from $INDEX_ROOT and the in-use INDX blocks of
// $INDEX_ALLOCATION. Every name of a file is listed (hard links), DOS 8.3 aliases are not; named
// $DATA streams are listed beside their file as `name:stream`; sparse runs and the tail past the
// valid data length read as holes. Symbolic links and junctions are links; other reparse points,
// compressed and encrypted files are refused by name when read. The layouts are in ntfs/layout.ts
// and ntfs/reparse.ts.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import {
  FolderTrail,
  isReadFailure,
  splitPath,
  describeEach,
  regionBytes,
  type FileRegion,
  type FileSystem,
  type FsEntry,
  type VolumeNote,
} from './file-system.ts';
import {
  ATTR_BITMAP,
  ATTR_DATA,
  ATTR_FILE_NAME,
  ATTR_INDEX_ALLOCATION,
  ATTR_INDEX_ROOT,
  ATTR_LIST,
  ATTR_REPARSE_POINT,
  ATTR_STANDARD_INFORMATION,
  ATTR_VOLUME_INFORMATION,
  ATTR_VOLUME_NAME,
  FLAG_COMPRESSED,
  FLAG_ENCRYPTED,
  NAMESPACE_DOS,
  applyFixups,
  corrupt,
  parseAttributeList,
  parseAttributes,
  parseFileName,
  parseIndexEntries,
  parseNtfsBootSector,
  parseRecordHeader,
  parseStandardInformation,
  type Attribute,
  type IndexEntry,
  type NtfsGeometry,
  type RecordHeader,
  type Run,
} from './ntfs/layout.ts';
import { LruCache } from './lru.ts';
import { parseReparsePoint, type Reparse } from './ntfs/reparse.ts';

export { applyFixups, decodeRuns, parseAttributeList, parseAttributes, parseIndexEntries, parseNtfsBootSector } from './ntfs/layout.ts';
export type { NtfsGeometry, Run } from './ntfs/layout.ts';
export { parseReparsePoint } from './ntfs/reparse.ts';

const ROOT_RECORD = 5;
const VOLUME_RECORD = 3;
/** Records below this are the volume's own metadata files ($MFT, $LogFile...), never listed. */
const FIRST_USER_RECORD = 16;
const VOLUME_DIRTY = 0x0001;
const RECORD_IN_USE = 0x1;
const RECORD_DIRECTORY = 0x2;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_EXTENSION_RECORDS = 256;
const MAX_SMALL_VALUE = 1024 * 1024;
/** The MFT is read and kept in blocks of this size: a folder's records usually lie together. */
const MFT_BLOCK_BYTES = 64 * 1024;
const MFT_BLOCKS_KEPT = 128;
/** Folder listings kept, by names held (some tens of MiB); the newest folder whatever its size. */
const FOLDER_NAMES_KEPT = 250_000;
const DATA_CHUNK = 4 * 1024 * 1024;

/** A folder's entries (one per name, DOS aliases left out) and its names for lookups. */
type Folder = { entries: IndexEntry[]; names: FolderNames | null };
/** A folder's entries by exact name (escaped names too) and by caseless name. */
type FolderNames = { exact: Map<string, IndexEntry>; folded: Map<string, IndexEntry> };

/** MFT records read together, their update sequences applied (shared: never written to). */
type MftBlock = { bytes: Buffer; damaged: (string | null)[] };

/** A file's base record, read whole (extension records included). */
type FileRecord = {
  number: number;
  sequence: number;
  isDir: boolean;
  links: number;
  mtime: Date | null;
  attributes: Attribute[];
  reparse: Reparse | null;
};

/** Where a path leads: the root, or a name in a folder, with the stream it names (null: the
 * file itself). */
type Located = { entry: IndexEntry | null; record: number; stream: string | null };

/** Names escapeGuestName may change: control characters, '/', '%', '.' and '..', very long ones. */
const MAY_NEED_ESCAPING = /[\x00-\x1f\x7f-\x9f/%]|^\.\.?$|^$|^.{64}/su;

const folded = (name: string): string => name.toLowerCase();

export class NtfsFileSystem implements FileSystem {
  readonly kind = 'ntfs' as const;
  readonly label: string;
  readonly notes: VolumeNote[];
  private readonly disk: Disk;
  private readonly geometry: NtfsGeometry;
  private mftRuns: Run[];
  private readonly mftBytes: number;
  private readonly mftBlocks = new LruCache<number, MftBlock>(MFT_BLOCKS_KEPT);
  private readonly folders = new LruCache<number, Folder>(FOLDER_NAMES_KEPT);

  private constructor(disk: Disk, geometry: NtfsGeometry, mft: Attribute, label: string, notes: VolumeNote[]) {
    this.disk = disk;
    this.geometry = geometry;
    this.mftRuns = mft.runs;
    this.mftBytes = mft.dataSize;
    this.label = label;
    this.notes = notes;
  }

  static async open(disk: Disk): Promise<NtfsFileSystem> {
    const geometry = parseNtfsBootSector(await disk.read(0, 512), disk.capacity);
    const first = applyFixups(await disk.read(geometry.mftOffset, geometry.recordBytes), 'FILE');
    const data = parseAttributes(first).find((attribute) => attribute.type === ATTR_DATA && attribute.name === '');
    if (!data || data.runs.length === 0) return corrupt('not a usable NTFS file system ($MFT has no data runs)');
    const probe = new NtfsFileSystem(disk, geometry, data, '', []);
    // A fragmented $MFT keeps the rest of its runlist in extension records, which its first runs reach.
    const mft = (await probe.attributesOf(0, first)).find((attribute) => attribute.type === ATTR_DATA && attribute.name === '') ?? data;
    const volumeAttributes = await probe.attributesOf(VOLUME_RECORD);
    const name = volumeAttributes.find((attribute) => attribute.type === ATTR_VOLUME_NAME);
    const information = volumeAttributes.find((attribute) => attribute.type === ATTR_VOLUME_INFORMATION)?.resident;
    // Replaying $LogFile is not done: a dirty volume is shown as its MFT stands, said to be maybe stale.
    const dirty = information != null && information.length >= 12 && (information.readUInt16LE(10) & VOLUME_DIRTY) !== 0;
    const notes = dirty
      ? [{ stale: true, text: 'may be stale: the NTFS volume is marked dirty (not cleanly unmounted) and its $LogFile was not replayed' }]
      : [];
    return new NtfsFileSystem(disk, geometry, mft, name?.resident?.toString('utf16le') ?? '', notes);
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
      if (disk + (to - from) > this.disk.capacity) corrupt('not a usable NTFS file system (a run points outside the volume)');
      (await this.disk.read(disk, to - from)).copy(out, from - start);
    }
    return out;
  }

  /** The value of a small attribute (a list, a bitmap, a reparse point), bounded. */
  private async smallValue(attribute: Attribute, what: string): Promise<Buffer> {
    if (attribute.resident) return attribute.resident;
    if (attribute.dataSize > MAX_SMALL_VALUE) corrupt(`NTFS ${what} is absurdly large (${attribute.dataSize} bytes)`);
    return this.readRuns(attribute.runs, 0, attribute.dataSize);
  }

  /** MFT records per block read (see MFT_BLOCK_BYTES). */
  private get recordsPerBlock(): number {
    return Math.max(1, Math.floor(MFT_BLOCK_BYTES / this.geometry.recordBytes));
  }

  /** MFT block `blockNumber`, read and its records' update sequences applied (not kept). */
  private async readMftBlock(blockNumber: number): Promise<MftBlock> {
    const { recordBytes } = this.geometry;
    const from = blockNumber * this.recordsPerBlock * recordBytes;
    const bytes = await this.readRuns(this.mftRuns, from, Math.min(this.recordsPerBlock * recordBytes, this.mftBytes - from));
    // Each record's update sequence is applied once, in place, as the block is read; a record
    // that fails keeps its reason for when it is asked for.
    const damaged: (string | null)[] = [];
    for (let at = 0; at + recordBytes <= bytes.length; at += recordBytes) {
      try {
        applyFixups(bytes.subarray(at, at + recordBytes), 'FILE');
        damaged.push(null);
      } catch (error) {
        damaged.push((error as Error).message);
      }
    }
    return { bytes, damaged };
  }

  /** The MFT blocks holding a folder's entries' records, read together (a large folder's
   * records span more blocks than are kept); a block that cannot be read is left for `record`
   * to refuse with its reason when its entry is described. */
  private async mftBlocksOf(entries: readonly IndexEntry[]): Promise<Map<number, MftBlock>> {
    const held = new Map<number, MftBlock>();
    const { recordBytes } = this.geometry;
    const wanted = new Set<number>();
    for (const { record } of entries)
      if ((record + 1) * recordBytes <= this.mftBytes) wanted.add(Math.floor(record / this.recordsPerBlock));
    await Promise.all(
      [...wanted].map(async (blockNumber) => {
        const block =
          this.mftBlocks.get(blockNumber) ??
          (await this.readMftBlock(blockNumber).catch((error: unknown) => {
            if (!isReadFailure(error)) throw error;
            return null;
          }));
        if (block) held.set(blockNumber, block);
      }),
    );
    return held;
  }

  /** One MFT record, its update sequence applied; refused when not in use. Its block is taken
   * from `held` when there (blocks read ahead for a listing). */
  private async record(number: number, held?: Map<number, MftBlock>): Promise<Buffer> {
    const blockNumber = this.mftBlockOf(number);
    let block = held?.get(blockNumber) ?? this.mftBlocks.get(blockNumber);
    if (!block) {
      block = await this.readMftBlock(blockNumber);
      this.mftBlocks.set(blockNumber, block);
    }
    return this.recordIn(number, blockNumber, block);
  }

  /** The MFT block holding record `number`; a number past the end of the MFT is refused. */
  private mftBlockOf(number: number): number {
    const { recordBytes } = this.geometry;
    const start = number * recordBytes;
    if (!Number.isSafeInteger(start) || start + recordBytes > this.mftBytes) corrupt(`MFT record ${number} lies past the end of the MFT`);
    return Math.floor(number / this.recordsPerBlock);
  }

  /** Record `number` out of its MFT block; refused when damaged or not in use. */
  private recordIn(number: number, blockNumber: number, block: MftBlock): Buffer {
    const { recordBytes } = this.geometry;
    const slot = number - blockNumber * this.recordsPerBlock;
    const problem = block.damaged[slot];
    if (problem !== null) throw new LifeboatError('corrupt-disk', `MFT record ${number}: ${problem ?? 'not read'}`);
    const record = block.bytes.subarray(slot * recordBytes, (slot + 1) * recordBytes);
    if (!(parseRecordHeader(record).flags & RECORD_IN_USE)) throw new LifeboatError('not-found', `MFT record ${number} is not in use`);
    return record;
  }

  /** A file's attributes, including those an $ATTRIBUTE_LIST places in extension records; the
   * extents of one non-resident attribute are joined into one runlist. Resident attributes stay
   * apart: a file has one $FILE_NAME per name. */
  private async attributesOf(recordNumber: number, baseRecord?: Buffer): Promise<Attribute[]> {
    const base = parseAttributes(baseRecord ?? (await this.record(recordNumber)));
    const list = base.find((attribute) => attribute.type === ATTR_LIST);
    if (!list) return base;
    const extensions = parseAttributeList(await this.smallValue(list, 'attribute list')).filter((record) => record !== recordNumber);
    if (extensions.length > MAX_EXTENSION_RECORDS) corrupt(`MFT record ${recordNumber} has ${extensions.length} extension records`);
    const all = base.filter((attribute) => attribute.type !== ATTR_LIST);
    for (const record of extensions) {
      const bytes = await this.record(record);
      if (parseRecordHeader(bytes).baseRecord !== recordNumber)
        corrupt(`MFT record ${recordNumber} lists record ${record} as its extension, which belongs to another file`);
      all.push(...parseAttributes(bytes));
    }
    const joined = new Map<string, Attribute>();
    const out: Attribute[] = [];
    for (const attribute of all.sort((a, b) => a.startVcn - b.startVcn)) {
      if (attribute.resident) {
        out.push(attribute);
        continue;
      }
      const key = `${attribute.type}:${attribute.name}`;
      const first = joined.get(key);
      if (first) first.runs.push(...attribute.runs);
      else {
        const copy = { ...attribute, runs: [...attribute.runs] };
        joined.set(key, copy);
        out.push(copy);
      }
    }
    return out;
  }

  private async fileRecord(number: number, held?: Map<number, MftBlock>): Promise<FileRecord> {
    const bytes = await this.record(number, held);
    const header = NtfsFileSystem.baseHeader(number, bytes);
    const attributes = await this.attributesOf(number, bytes);
    const reparse = attributes.find((attribute) => attribute.type === ATTR_REPARSE_POINT);
    return this.fileRecordOf(number, header, attributes, reparse ? await this.smallValue(reparse, 'reparse point') : null);
  }

  /** A file's record from the MFT blocks read ahead for a listing, at once; null when it needs
   * more than its own record (extension records, a reparse point kept outside it) or its block
   * is not among them. */
  private heldFileRecord(number: number, held: Map<number, MftBlock>): FileRecord | null {
    const blockNumber = this.mftBlockOf(number);
    const block = held.get(blockNumber);
    if (!block) return null;
    const bytes = this.recordIn(number, blockNumber, block);
    const header = NtfsFileSystem.baseHeader(number, bytes);
    const attributes = parseAttributes(bytes);
    if (attributes.some((attribute) => attribute.type === ATTR_LIST)) return null;
    const reparse = attributes.find((attribute) => attribute.type === ATTR_REPARSE_POINT);
    if (reparse && !reparse.resident) return null;
    return this.fileRecordOf(number, header, attributes, reparse?.resident ?? null);
  }

  private static baseHeader(number: number, bytes: Buffer): RecordHeader {
    const header = parseRecordHeader(bytes);
    if (header.baseRecord !== 0) corrupt(`MFT record ${number} is an extension record, not a file`);
    return header;
  }

  /** `attributes`: all of the file's (extension records joined); `reparse`: its reparse point's value. */
  private fileRecordOf(number: number, header: RecordHeader, attributes: Attribute[], reparse: Buffer | null): FileRecord {
    const names = attributes.filter((attribute) => attribute.type === ATTR_FILE_NAME && attribute.resident);
    const links = names.filter((attribute) => parseFileName(attribute.resident as Buffer).namespace !== NAMESPACE_DOS).length;
    const information = attributes.find((attribute) => attribute.type === ATTR_STANDARD_INFORMATION)?.resident;
    return {
      number,
      sequence: header.sequence,
      isDir: (header.flags & RECORD_DIRECTORY) !== 0,
      links: links || header.links,
      mtime: information ? parseStandardInformation(information).mtime : null,
      attributes,
      reparse: reparse ? parseReparsePoint(reparse) : null,
    };
  }

  /** The index blocks of a folder that its $I30 bitmap marks in use (every block with the INDX
   * signature when the bitmap is missing). */
  private async indexBlockEntries(attributes: Attribute[]): Promise<IndexEntry[]> {
    const allocation = attributes.find((attribute) => attribute.type === ATTR_INDEX_ALLOCATION && attribute.name === '$I30');
    if (!allocation) return [];
    if (allocation.dataSize > MAX_INDEX_BYTES) corrupt(`an NTFS folder index is absurdly large (${allocation.dataSize} bytes)`);
    const bitmapAttribute = attributes.find((attribute) => attribute.type === ATTR_BITMAP && attribute.name === '$I30');
    const bitmap = bitmapAttribute ? await this.smallValue(bitmapAttribute, 'index bitmap') : null;
    const { indexBytes } = this.geometry;
    const blocks = await this.readRuns(allocation.runs, 0, allocation.dataSize);
    const entries: IndexEntry[] = [];
    for (let index = 0; (index + 1) * indexBytes <= blocks.length; index++) {
      if (bitmap && !(((bitmap[index >> 3] ?? 0) >> (index & 7)) & 1)) continue;
      const block = Buffer.from(blocks.subarray(index * indexBytes, (index + 1) * indexBytes));
      if (!bitmap && block.toString('latin1', 0, 4) !== 'INDX') continue; // an unused block
      entries.push(...parseIndexEntries(applyFixups(block, 'INDX'), 24));
    }
    return entries;
  }

  /** A folder's names: one entry per name (hard links in one folder are two), no DOS aliases
   * (unless a file had no other name), no system files, kept for later lookups. */
  private async folder(recordNumber: number): Promise<Folder> {
    const cached = this.folders.get(recordNumber);
    if (cached) return cached;
    const attributes = (await this.fileRecord(recordNumber)).attributes;
    const root = attributes.find((attribute) => attribute.type === ATTR_INDEX_ROOT && attribute.name === '$I30');
    if (!root?.resident) throw new LifeboatError('bad-request', `MFT record ${recordNumber} is not a folder`);
    const all = [...parseIndexEntries(root.resident, 16), ...(await this.indexBlockEntries(attributes))];
    const longNamed = new Set(all.filter((entry) => entry.namespace !== NAMESPACE_DOS).map((entry) => entry.record));
    const unique = new Map<string, IndexEntry>();
    for (const entry of all) {
      if (entry.record === recordNumber || (entry.record < FIRST_USER_RECORD && entry.record !== ROOT_RECORD)) continue;
      if (entry.namespace === NAMESPACE_DOS && longNamed.has(entry.record)) continue;
      unique.set(`${entry.record}/${entry.name}`, entry);
    }
    const folder = { entries: [...unique.values()], names: null };
    this.folders.set(recordNumber, folder, Math.max(1, folder.entries.length));
    return folder;
  }

  /** The entry `part` names in a folder: its exact name (or the name an item restore escaped it
   * to: one holding '/', control characters) first, then caseless. The maps are built at the
   * first look-up, not for a folder that is only listed. */
  private static named(folder: Folder, part: string): IndexEntry | undefined {
    folder.names ??= NtfsFileSystem.namesOf(folder.entries);
    return folder.names.exact.get(part) ?? folder.names.folded.get(folded(part));
  }

  private static namesOf(entries: IndexEntry[]): FolderNames {
    const exact = new Map<string, IndexEntry>();
    const caseless = new Map<string, IndexEntry>();
    for (const entry of entries) {
      if (!exact.has(entry.name)) exact.set(entry.name, entry);
      const key = folded(entry.name);
      if (!caseless.has(key)) caseless.set(key, entry);
    }
    for (const entry of entries) {
      if (!MAY_NEED_ESCAPING.test(entry.name)) continue;
      const escaped = escapeGuestName(entry.name).name;
      if (escaped !== entry.name && !exact.has(escaped)) exact.set(escaped, entry);
    }
    return { exact, folded: caseless };
  }

  /** A path's last component may name a stream, `file:stream` (a file's own name may hold ':'
   * too, as ntfs-3g writes them: that name wins). */
  private async resolve(path: string): Promise<Located> {
    const parts = splitPath(path);
    const trail = new FolderTrail(path, [ROOT_RECORD]);
    let located: Located = { entry: null, record: ROOT_RECORD, stream: null };
    for (const [index, part] of parts.entries()) {
      const folder = await this.folder(located.record);
      let entry = NtfsFileSystem.named(folder, part);
      let stream: string | null = null;
      if (!entry && index === parts.length - 1) {
        for (let colon = part.indexOf(':'); colon > 0 && !entry; colon = part.indexOf(':', colon + 1)) {
          entry = NtfsFileSystem.named(folder, part.slice(0, colon));
          stream = part.slice(colon + 1);
        }
      }
      if (!entry) throw new LifeboatError('not-found', `${path}: no such file or folder`);
      if (index < parts.length - 1) trail.enter(entry.record, part);
      located = { entry, record: entry.record, stream };
    }
    return located;
  }

  /** The file a folder entry names, checked to still be that file (its sequence number). */
  private async fileOf(entry: IndexEntry, held?: Map<number, MftBlock>): Promise<FileRecord> {
    return NtfsFileSystem.stillNamed(entry, await this.fileRecord(entry.record, held));
  }

  private static stillNamed(entry: IndexEntry, file: FileRecord): FileRecord {
    if (entry.sequence !== 0 && entry.sequence !== file.sequence)
      corrupt(`its folder entry points at MFT record ${entry.record}, which now holds another file`);
    return file;
  }

  private allocated(attribute: Attribute): number {
    if (attribute.resident) return 0;
    return attribute.runs.reduce((sum, run) => sum + (run.lcn === null ? 0 : run.length), 0) * this.geometry.clusterBytes;
  }

  /** A name's entry, then one `name:stream` entry per named $DATA stream (files and folders). */
  private describe(name: string, file: FileRecord): FsEntry[] {
    const data = file.attributes.find((attribute) => attribute.type === ATTR_DATA && attribute.name === '');
    const identity = { mtime: file.mtime, mode: null, fileId: String(file.number), links: file.links };
    const own: FsEntry =
      file.reparse && file.reparse.target !== null
        ? { name, type: 'symlink', size: Buffer.byteLength(file.reparse.target), target: file.reparse.target, ...identity }
        : file.isDir
          ? { name, type: 'dir', size: 0, ...identity }
          : { name, type: 'file', size: data?.dataSize ?? 0, allocated: data ? this.allocated(data) : 0, ...identity };
    const streams = file.attributes
      .filter((attribute) => attribute.type === ATTR_DATA && attribute.name !== '')
      .map((stream): FsEntry => ({
        name: `${name}:${stream.name}`,
        type: 'file',
        size: stream.dataSize,
        allocated: this.allocated(stream),
        mtime: file.mtime,
        mode: null,
      }));
    return [own, ...streams];
  }

  async list(path: string): Promise<FsEntry[]> {
    const located = await this.resolve(path);
    if (located.stream !== null) throw new LifeboatError('bad-request', `${path} is a stream, not a folder`);
    const folder = await this.folder(located.record).catch((error: unknown) => {
      if (error instanceof LifeboatError && error.code === 'bad-request')
        throw new LifeboatError('bad-request', `${path} is a file, not a folder`);
      throw error;
    });
    const held = await this.mftBlocksOf(folder.entries);
    return describeEach(folder.entries, (entry) => {
      const file = this.heldFileRecord(entry.record, held);
      return file
        ? this.describe(entry.name, NtfsFileSystem.stillNamed(entry, file))
        : this.fileOf(entry, held).then((read) => this.describe(entry.name, read));
    });
  }

  async stat(path: string): Promise<FsEntry> {
    const located = await this.resolve(path);
    if (!located.entry) return { name: '/', type: 'dir', size: 0, mtime: null, mode: null };
    const described = this.describe(located.entry.name, await this.fileOf(located.entry));
    if (located.stream === null) return described[0] as FsEntry;
    const stream = this.streamAttribute(await this.fileOf(located.entry), located.stream, path);
    return described.find((entry) => entry.name === `${located.entry?.name}:${stream.name}`) as FsEntry;
  }

  private streamAttribute(file: FileRecord, stream: string, path: string): Attribute {
    // Stream names are caseless, as file names are on Windows: the exact name first.
    const streams = file.attributes.filter((attribute) => attribute.type === ATTR_DATA && attribute.name !== '');
    const found =
      streams.find((attribute) => attribute.name === stream || escapeGuestName(attribute.name).name === stream) ??
      streams.find((attribute) => folded(attribute.name) === folded(stream));
    if (!found) throw new LifeboatError('not-found', `${path}: no such file, folder or stream`);
    return found;
  }

  /** The $DATA attribute a path reads, refused by name when Lifeboat cannot read it. */
  private async dataFor(path: string): Promise<Attribute> {
    const located = await this.resolve(path);
    if (!located.entry) throw new LifeboatError('bad-request', `${path} is not a file`);
    const file = await this.fileOf(located.entry);
    let data: Attribute;
    if (located.stream !== null) data = this.streamAttribute(file, located.stream, path);
    else {
      if (file.reparse?.target != null) throw new LifeboatError('bad-request', `${path} is a link, not a file`);
      if (file.isDir) throw new LifeboatError('bad-request', `${path} is a folder, not a file`);
      if (file.reparse)
        throw new LifeboatError(
          'unavailable',
          `${path} is ${file.reparse.what}: its content is not in the file, and Lifeboat does not read it`,
        );
      const unnamed = file.attributes.find((attribute) => attribute.type === ATTR_DATA && attribute.name === '');
      if (!unnamed) return corrupt(`${path} has no data stream`);
      data = unnamed;
    }
    if (data.flags & FLAG_COMPRESSED)
      throw new LifeboatError('unavailable', `${path} is NTFS-compressed, which Lifeboat does not read yet`);
    if (data.flags & FLAG_ENCRYPTED) throw new LifeboatError('unavailable', `${path} is encrypted (EFS)`);
    return data;
  }

  /** An attribute's content as data and holes: sparse runs, and the part past the valid data
   * length (never written, read as zeros), are holes. */
  private async *regionsOf(data: Attribute, path: string): AsyncGenerator<FileRegion> {
    if (data.resident) {
      yield Buffer.from(data.resident);
      return;
    }
    const { clusterBytes } = this.geometry;
    const end = data.dataSize;
    let position = 0;
    let hole = 0;
    for (const run of data.runs) {
      if (position >= end) break;
      const runStart = run.vcn * clusterBytes;
      if (runStart !== position) corrupt(`${path}: its runlist has a gap or an overlap at byte ${position}`);
      const runEnd = Math.min(runStart + run.length * clusterBytes, end);
      const written = run.lcn === null ? position : Math.min(runEnd, Math.max(position, data.initializedSize));
      if (run.lcn !== null && run.lcn * clusterBytes + (written - runStart) > this.disk.capacity)
        corrupt(`${path}: a run points outside the volume`);
      for (let at = position; at < written; at += DATA_CHUNK) {
        if (hole > 0) yield { hole };
        hole = 0;
        const length = Math.min(DATA_CHUNK, written - at);
        yield await this.disk.read((run.lcn as number) * clusterBytes + (at - runStart), length);
      }
      hole += runEnd - written;
      position = runEnd;
    }
    if (position < end) corrupt(`${path}: its runs end at byte ${position}, before its size ${end}`);
    if (hole > 0) yield { hole };
  }

  async *readRegions(path: string): AsyncGenerator<FileRegion> {
    yield* this.regionsOf(await this.dataFor(path), path);
  }

  async *read(path: string): AsyncGenerator<Uint8Array> {
    yield* regionBytes(this.readRegions(path));
  }
}
