// A raw image or a flat extent: bytes on disk are the disk's bytes, from an optional start offset.
// The holes of a sparse (thin) file read as zeros: the file system says where they are; a source
// that cannot say (a datastore over HTTP) has every byte read.
import { checkRange, type Extent } from './disk.ts';
import { localFiles } from './local-files.ts';
import type { FileSource, SourceFile } from './file-source.ts';
import { layerExtents, type LayerDisk, type Run } from './layer.ts';

export class RawDisk implements LayerDisk {
  private readonly file: SourceFile;
  private readonly start: number;
  readonly capacity: number;
  readonly description: string;

  private constructor(file: SourceFile, start: number, capacity: number, description: string) {
    this.file = file;
    this.start = start;
    this.capacity = capacity;
    this.description = description;
  }

  static async open(path: string, options: { start?: number; capacity?: number } = {}, source: FileSource = localFiles): Promise<RawDisk> {
    const file = await source.open(path);
    const start = options.start ?? 0;
    return new RawDisk(file, start, options.capacity ?? Math.max(0, file.size - start), `raw image ${path}`);
  }

  read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    return this.file.read(this.start + offset, length);
  }

  readInto(target: Buffer, offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    return this.file.readInto(target, 0, length, this.start + offset);
  }

  /** Every byte of a raw image is its own: nothing shows through from a parent. A hole of the
   * file (or what lies past its end) is zeros, over a parent too: a flat file is never a delta. */
  async runs(offset: number, length: number): Promise<Run[]> {
    checkRange(this, offset, length);
    const file = this.file.dataExtents(this.start + offset, this.start + offset + length);
    if (file === null) return length > 0 ? [{ state: 'data', length }] : [];
    return file.map((extent) => ({ state: extent.state, length: extent.length }));
  }

  extents(offset: number, length: number): Promise<Extent[]> {
    return layerExtents(this, offset, length);
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
