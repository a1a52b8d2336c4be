// Archives for item-level restores, written as a stream: tar (ustar, with PAX records for long
// names and large sizes) and zip (stored entries, UTF-8 names, CRC-32 in data descriptors).
// They write to any ByteSink: a file (a FileHandle is one) or an HTTP response (a download).
import { crc32 } from 'node:zlib';
import { LifeboatError } from '../errors.ts';

export type ArchiveKind = 'zip' | 'tar';

export interface ArchiveWriter {
  directory(path: string, mtime: Date | null, mode: number | null): Promise<void>;
  symlink(path: string, target: string, mtime: Date | null): Promise<void>;
  file(path: string, size: number, mtime: Date | null, mode: number | null, chunks: AsyncIterable<Uint8Array>): Promise<void>;
  /** Another name of a file already archived as `existing`, where the format has hard links
   * (tar); without it the bytes are written again (zip). */
  hardLink?(path: string, existing: string, mtime: Date | null, mode: number | null): Promise<void>;
  close(): Promise<void>;
}

/** Where an archive's bytes go, in order; each write resolves once the sink can take more. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<unknown>;
}

class Output {
  offset = 0;
  private readonly sink: ByteSink;
  constructor(sink: ByteSink) {
    this.sink = sink;
  }
  async write(bytes: Uint8Array): Promise<void> {
    await this.sink.write(bytes);
    this.offset += bytes.length;
  }
}

const seconds = (mtime: Date | null): number => Math.max(0, Math.floor((mtime?.getTime() ?? 0) / 1000));

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** "<length> key=value\n", where the length counts its own digits too. */
export function paxRecord(record: string): string {
  const text = ` ${record}\n`;
  const bytes = Buffer.byteLength(text);
  let total = bytes + String(bytes).length;
  if (String(total).length !== String(bytes).length) total = bytes + String(total).length;
  return `${total}${text}`;
}

export class TarWriter implements ArchiveWriter {
  private readonly out: Output;
  private readonly modeMask: number;

  /** `modeMask`: the mode bits kept (0o777 drops setuid, setgid and sticky). */
  constructor(sink: ByteSink, modeMask = 0o777) {
    this.out = new Output(sink);
    this.modeMask = modeMask;
  }

  private header(path: string, type: string, size: number, mtime: Date | null, mode: number, linkname = ''): Buffer {
    const block = Buffer.alloc(512);
    block.write(path.slice(0, 100), 0, 'utf8');
    block.write(octal(mode & this.modeMask, 8), 100, 'latin1');
    block.write(octal(0, 8), 108, 'latin1');
    block.write(octal(0, 8), 116, 'latin1');
    block.write(size < 8 ** 11 ? octal(size, 12) : octal(0, 12), 124, 'latin1');
    block.write(octal(seconds(mtime), 12), 136, 'latin1');
    block.write('        ', 148, 'latin1');
    block.write(type, 156, 'latin1');
    block.write(linkname.slice(0, 100), 157, 'utf8');
    block.write('ustar\0' + '00', 257, 'latin1');
    let sum = 0;
    for (const byte of block) sum += byte;
    block.write(octal(sum, 7) + ' ', 148, 'latin1');
    return block;
  }

  /** A PAX header carries what ustar cannot: long or non-ASCII names and targets, big sizes. */
  private async entry(path: string, type: string, size: number, mtime: Date | null, mode: number, linkname = ''): Promise<void> {
    const records: string[] = [];
    const needs = (text: string): boolean => Buffer.byteLength(text) > 100 || /[^\x20-\x7e]/.test(text);
    if (needs(path)) records.push(`path=${path}`);
    if (needs(linkname)) records.push(`linkpath=${linkname}`);
    if (size >= 8 ** 11) records.push(`size=${size}`);
    if (records.length > 0) {
      const body = Buffer.from(records.map(paxRecord).join(''));
      await this.out.write(this.header('PaxHeader', 'x', body.length, mtime, 0o644));
      await this.out.write(Buffer.concat([body, Buffer.alloc((512 - (body.length % 512)) % 512)]));
    }
    await this.out.write(this.header(path, type, size, mtime, mode, linkname));
  }

  async directory(path: string, mtime: Date | null, mode: number | null): Promise<void> {
    await this.entry(`${path}/`, '5', 0, mtime, mode ?? 0o755);
  }

  async symlink(path: string, target: string, mtime: Date | null): Promise<void> {
    await this.entry(path, '2', 0, mtime, 0o777, target);
  }

  /** Type '1': a name of an earlier entry's file, no bytes of its own. */
  async hardLink(path: string, existing: string, mtime: Date | null, mode: number | null): Promise<void> {
    await this.entry(path, '1', 0, mtime, mode ?? 0o644, existing);
  }

  async file(path: string, size: number, mtime: Date | null, mode: number | null, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.entry(path, '0', size, mtime, mode ?? 0o644);
    let written = 0;
    for await (const chunk of chunks) {
      await this.out.write(chunk);
      written += chunk.length;
    }
    if (written !== size) throw new LifeboatError('corrupt-disk', `${path}: read ${written} bytes, its size is ${size}`);
    await this.out.write(Buffer.alloc((512 - (size % 512)) % 512));
  }

  async close(): Promise<void> {
    await this.out.write(Buffer.alloc(1024));
  }
}

function dosTime(mtime: Date | null): { time: number; date: number } {
  const when = mtime && mtime.getUTCFullYear() >= 1980 ? mtime : new Date(Date.UTC(1980, 0, 1));
  return {
    time: (when.getUTCHours() << 11) | (when.getUTCMinutes() << 5) | Math.floor(when.getUTCSeconds() / 2),
    date: ((when.getUTCFullYear() - 1980) << 9) | ((when.getUTCMonth() + 1) << 5) | when.getUTCDate(),
  };
}

const ZIP_LIMIT = 0xffffffff;

export class ZipWriter implements ArchiveWriter {
  private readonly out: Output;
  private readonly central: Buffer[] = [];
  private readonly modeMask: number;
  private count = 0;

  /** `modeMask`: the mode bits kept (0o777 drops setuid, setgid and sticky). */
  constructor(sink: ByteSink, modeMask = 0o777) {
    this.out = new Output(sink);
    this.modeMask = modeMask;
  }

  private async add(
    path: string,
    mtime: Date | null,
    externalMode: number,
    body: AsyncIterable<Uint8Array> | null,
    size: number,
  ): Promise<void> {
    if (size > ZIP_LIMIT || this.out.offset > ZIP_LIMIT)
      throw new LifeboatError('bad-request', `${path}: zip archives here stop at 4 GiB; use --archive tar`);
    if (this.count >= 0xffff) throw new LifeboatError('bad-request', 'zip archives here hold at most 65535 entries; use --archive tar');
    const name = Buffer.from(path, 'utf8');
    const { time, date } = dosTime(mtime);
    const offset = this.out.offset;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0808, 6); // sizes and CRC follow the data; UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(time, 10);
    local.writeUInt16LE(date, 12);
    local.writeUInt16LE(name.length, 26);
    await this.out.write(Buffer.concat([local, name]));
    let crc = 0;
    let written = 0;
    if (body) {
      for await (const chunk of body) {
        crc = crc32(chunk, crc);
        written += chunk.length;
        await this.out.write(chunk);
      }
    }
    if (written !== size) throw new LifeboatError('corrupt-disk', `${path}: read ${written} bytes, its size is ${size}`);
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
    await this.out.write(descriptor);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, so the mode travels
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0808, 8);
    entry.writeUInt16LE(0, 10);
    entry.writeUInt16LE(time, 12);
    entry.writeUInt16LE(date, 14);
    entry.writeUInt32LE(crc >>> 0, 16);
    entry.writeUInt32LE(size, 20);
    entry.writeUInt32LE(size, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(externalMode >>> 0, 38);
    entry.writeUInt32LE(offset, 42);
    this.central.push(Buffer.concat([entry, name]));
    this.count++;
  }

  async directory(path: string, mtime: Date | null, mode: number | null): Promise<void> {
    await this.add(`${path}/`, mtime, (((0o040000 | ((mode ?? 0o755) & this.modeMask)) << 16) | 0x10) >>> 0, null, 0);
  }

  async symlink(path: string, target: string, mtime: Date | null): Promise<void> {
    const bytes = Buffer.from(target, 'utf8');
    await this.add(
      path,
      mtime,
      ((0o120000 | 0o777) << 16) >>> 0,
      (async function* () {
        yield bytes;
      })(),
      bytes.length,
    );
  }

  async file(path: string, size: number, mtime: Date | null, mode: number | null, chunks: AsyncIterable<Uint8Array>): Promise<void> {
    await this.add(path, mtime, ((0o100000 | ((mode ?? 0o644) & this.modeMask)) << 16) >>> 0, chunks, size);
  }

  async close(): Promise<void> {
    const start = this.out.offset;
    const directory = Buffer.concat(this.central);
    await this.out.write(directory);
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(this.count, 8);
    end.writeUInt16LE(this.count, 10);
    end.writeUInt32LE(directory.length, 12);
    end.writeUInt32LE(start, 16);
    await this.out.write(end);
  }
}
