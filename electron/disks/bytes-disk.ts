// A disk held in memory: a small file (a configuration, a descriptor) served like any disk.
import { checkRange, type Disk } from './disk.ts';

export class BytesDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly bytes: Buffer;

  constructor(bytes: Buffer, description: string) {
    this.bytes = bytes;
    this.capacity = bytes.length;
    this.description = description;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    return Buffer.from(this.bytes.subarray(offset, offset + length));
  }

  async close(): Promise<void> {}
}
