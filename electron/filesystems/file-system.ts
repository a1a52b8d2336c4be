// What the item-level code sees of any file system: list a folder, look a path up, read a file.
import type { Disk } from '../disks/disk.ts';
import { checkRange } from '../disks/disk.ts';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';
export type FsEntry = { name: string; type: EntryType; size: number; mtime: Date | null; mode: number | null; target?: string };

export interface FileSystem {
  readonly kind: 'ext4' | 'fat' | 'ntfs';
  readonly label: string;
  list(path: string): Promise<FsEntry[]>;
  stat(path: string): Promise<FsEntry>;
  /** The file's bytes in order, in chunks. */
  read(path: string): AsyncGenerator<Uint8Array>;
}

/** A partition as a disk of its own: a window on its parent. */
export class DiskSlice implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly parent: Disk;
  private readonly start: number;

  constructor(parent: Disk, start: number, size: number, description: string) {
    this.parent = parent;
    this.start = start;
    this.capacity = Math.max(0, Math.min(size, parent.capacity - start));
    this.description = description;
  }

  read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    return this.parent.read(this.start + offset, length);
  }

  async close(): Promise<void> {}
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

export async function readAll(fs: FileSystem, path: string, maxBytes: number): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of fs.read(path)) {
    size += chunk.length;
    if (size > maxBytes) throw new RangeError(`${path} is larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
