// A vSphere datastore as a file source for the disk readers: files are read with ranged GETs on
// the host's HTTP file service (/folder), the NBD transport of a backup. Names are datastore
// paths, "[datastore] web01/web01.vmdk"; the rule that a snapshot's parent lies inside the VM
// folder is checked on those paths (the service gives no way to see links, so a path is the file).
import { posix } from 'node:path';
import { LifeboatError } from '../../errors.ts';
import type { FileSource, SourceFile } from '../../disks/file-source.ts';
import { DatastoreFile } from './datastore-file.ts';
import type { VsphereClient } from './vsphere-client.ts';

type Where = { client: VsphereClient; datacenter: string; datastore: string; signal?: AbortSignal };

export class DatastoreFiles implements FileSource {
  private readonly where: Where;
  private readonly prefix: string;

  /** `signal`: a cancel ends the ranged reads of the files opened here at once. */
  constructor(client: VsphereClient, datacenter: string, datastore: string, signal?: AbortSignal) {
    this.where = { client, datacenter, datastore, ...(signal ? { signal } : {}) };
    this.prefix = `[${datastore}] `;
  }

  /** The datastore path of a file inside the datastore ("web01/web01.vmdk" → "[ds] web01/web01.vmdk"). */
  nameOf(inside: string): string {
    return this.prefix + normalized(inside);
  }

  /** The path inside the datastore of a name of this source; one that climbs out of the
   * datastore ("../x": the file service would resolve it elsewhere) is refused. */
  private inside(name: string): string {
    if (!name.startsWith(this.prefix)) throw new RangeError(`${name} is not a path on datastore ${this.where.datastore}`);
    const path = normalized(name.slice(this.prefix.length));
    if (path === '..' || path.startsWith('../'))
      throw new LifeboatError('invalid-source', `${name} lies outside datastore ${this.where.datastore}; Lifeboat reads only inside it`);
    return path;
  }

  async open(name: string): Promise<SourceFile> {
    const inside = this.inside(name);
    return new DatastoreFile({ ...this.where, inside }, this.prefix + inside, await this.size(name));
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
