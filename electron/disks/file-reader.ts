// Positional reads of a file that always return the full length asked for (zeros past the end),
// so format readers need not loop.
import { open, type FileHandle } from 'node:fs/promises';
import type { Extent } from './disk.ts';
import type { SourceFile } from './file-source.ts';
import { fileExtents } from './seek-data.ts';

export class FileReader implements SourceFile {
  readonly path: string;
  readonly size: number;
  private readonly handle: FileHandle;

  private constructor(path: string, size: number, handle: FileHandle) {
    this.path = path;
    this.size = size;
    this.handle = handle;
  }

  static async open(path: string): Promise<FileReader> {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      return new FileReader(path, size, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Reads into target[targetOffset..] `length` bytes from `position`; what lies past EOF is zero. */
  async readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(target, targetOffset + done, length - done, position + done);
      if (bytesRead === 0) {
        target.fill(0, targetOffset + done, targetOffset + length);
        return;
      }
      done += bytesRead;
    }
  }

  /** Holes and data by lseek SEEK_DATA (electron/disks/seek-data.ts). */
  dataExtents(start: number, end: number): Extent[] {
    return fileExtents(this.handle.fd, start, end);
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    await this.readInto(buffer, 0, length, position);
    return buffer;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
