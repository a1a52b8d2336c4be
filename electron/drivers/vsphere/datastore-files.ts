// A vSphere datastore as a file source for the disk readers: files are read with ranged GETs on
// the host's HTTP file service (/folder), the NBD transport of a backup. Names are datastore
// paths, "[datastore] web01/web01.vmdk"; the rule that a snapshot's parent lies inside the VM
// folder is checked on those paths (the service gives no way to see links, so a path is the file).
import { posix } from 'node:path';
import type { Extent } from '../../disks/disk.ts';
import type { FileSource, SourceFile } from '../../disks/file-source.ts';
import type { VsphereClient } from './vsphere-client.ts';

/** The largest range one GET asks for: a backup reads a few MiB at a time, and send() buffers each answer. */
const MAX_RANGE_BYTES = 16 * 1024 * 1024;

type Where = { client: VsphereClient; datacenter: string; datastore: string };

class DatastoreFile implements SourceFile {
  readonly path: string;
  readonly size: number;
  private readonly where: Where;
  private readonly inside: string;

  constructor(where: Where, path: string, inside: string, size: number) {
    this.where = where;
    this.path = path;
    this.inside = inside;
    this.size = size;
  }

  async readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void> {
    const stored = Math.max(0, Math.min(length, this.size - position));
    for (let done = 0; done < stored;) {
      const piece = Math.min(MAX_RANGE_BYTES, stored - done);
      const { client, datacenter, datastore } = this.where;
      const bytes = await client.readRange(datacenter, datastore, this.inside, position + done, piece);
      bytes.copy(target, targetOffset + done);
      done += piece;
    }
    target.fill(0, targetOffset + stored, targetOffset + length);
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    await this.readInto(buffer, 0, length, position);
    return buffer;
  }

  /** The file service says nothing of holes: every byte is read. */
  dataExtents(): Extent[] | null {
    return null;
  }

  async close(): Promise<void> {}
}

export class DatastoreFiles implements FileSource {
  private readonly where: Where;
  private readonly prefix: string;

  constructor(client: VsphereClient, datacenter: string, datastore: string) {
    this.where = { client, datacenter, datastore };
    this.prefix = `[${datastore}] `;
  }

  /** The datastore path of a file inside the datastore ("web01/web01.vmdk" → "[ds] web01/web01.vmdk"). */
  nameOf(inside: string): string {
    return this.prefix + normalized(inside);
  }

  /** The path inside the datastore of a name of this source. */
  private inside(name: string): string {
    if (!name.startsWith(this.prefix)) throw new RangeError(`${name} is not a path on datastore ${this.where.datastore}`);
    return normalized(name.slice(this.prefix.length));
  }

  async open(name: string): Promise<SourceFile> {
    const inside = this.inside(name);
    return new DatastoreFile(this.where, this.prefix + inside, inside, await this.size(name));
  }

  size(name: string): Promise<number> {
    const { client, datacenter, datastore } = this.where;
    return client.fileSize(datacenter, datastore, this.inside(name));
  }

  readText(name: string): Promise<string> {
    const { client, datacenter, datastore } = this.where;
    return client.downloadText(datacenter, datastore, this.inside(name));
  }

  absolute(name: string): string {
    return this.prefix + this.inside(name);
  }

  folderOf(name: string): string {
    return this.prefix + posix.dirname(this.inside(name));
  }

  beside(name: string, fileName: string): string {
    return this.prefix + normalized(posix.join(posix.dirname(this.inside(name)), fileName));
  }

  relativeTo(folder: string, name: string): string {
    const base = this.inside(folder);
    const path = this.inside(name);
    if (base === '.') return path;
    return path.startsWith(base + '/') ? path.slice(base.length + 1) : posix.relative('/' + base, '/' + path);
  }

  async identity(name: string): Promise<string> {
    return this.absolute(name);
  }

  /** The name itself once the file is known to be there (a missing one is 'not-found', as open says). */
  async realName(name: string): Promise<string> {
    await this.size(name);
    return this.absolute(name);
  }

  async isInside(folder: string, name: string): Promise<boolean> {
    const base = this.inside(folder);
    const path = this.inside(name);
    if (path === '..' || path.startsWith('../')) return false;
    return base === '.' || path === base || path.startsWith(base + '/');
  }

  /** realName found it through the file service, which serves files only. */
  async isFile(): Promise<boolean> {
    return true;
  }
}

/** A path inside a datastore, without "." or ".." steps where they can be resolved and without a
 * leading slash; ".." steps that climb out of the datastore stay, so the folder check sees them. */
function normalized(path: string): string {
  const result = posix.normalize(path.replace(/^\/+/, ''));
  return result.endsWith('/') && result.length > 1 ? result.slice(0, -1) : result;
}
