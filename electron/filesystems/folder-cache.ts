// The parsed entries of the folders read last, kept by each reader so a path lookup costs a hash
// look-up per component instead of a read and scan of every folder on the way. Restoring a folder
// of n files looks each of them up by path: without this that is n scans of n entries.
// Bounded by folders and by names held; the volumes read are backups, never written, so an
// entry is never stale.
import { escapeGuestName } from '../../shared/guest-names.ts';

const MAX_FOLDERS = 64;
const MAX_NAMES = 250_000; // some tens of MiB; the newest folder is kept whatever its size

/** A folder's entries by name, answering as `findNamed` does: the guest's own name first (the
 * first entry of that name), else the name an item restore writes for it (escapeGuestName). */
export class NamedEntries<T extends { name: string }> {
  readonly entries: readonly T[];
  private readonly caseless: boolean;
  private byName: Map<string, T> | null = null;
  private byEscaped: Map<string, T> | null = null;

  constructor(entries: readonly T[], caseless: boolean) {
    this.entries = entries;
    this.caseless = caseless;
  }

  private fold(text: string): string {
    return this.caseless ? text.toLowerCase() : text;
  }

  find(part: string): T | undefined {
    const wanted = this.fold(part);
    if (this.byName === null) {
      // Built at the first look-up, not for a folder that is only listed.
      this.byName = new Map();
      for (const entry of this.entries) {
        const key = this.fold(entry.name);
        if (!this.byName.has(key)) this.byName.set(key, entry);
      }
    }
    const own = this.byName.get(wanted);
    if (own !== undefined) return own;
    if (this.byEscaped === null) {
      // Built only when a name is not found as it is: escaped names are rare.
      this.byEscaped = new Map();
      for (const entry of this.entries) {
        const key = this.fold(escapeGuestName(entry.name).name);
        if (!this.byEscaped.has(key)) this.byEscaped.set(key, entry);
      }
    }
    return this.byEscaped.get(wanted);
  }
}

/** Least recently used folders first out, by a key the reader chooses (an inode, a cluster). */
export class FolderCache<K, T extends { name: string }> {
  private readonly folders = new Map<K, NamedEntries<T>>();
  private readonly caseless: boolean;
  private readonly maxFolders: number;
  private readonly maxNames: number;
  private names = 0;

  constructor(caseless: boolean, maxFolders = MAX_FOLDERS, maxNames = MAX_NAMES) {
    this.caseless = caseless;
    this.maxFolders = maxFolders;
    this.maxNames = maxNames;
  }

  /** The folder's entries, read with `load` unless held. */
  async get(key: K, load: () => Promise<T[]>): Promise<NamedEntries<T>> {
    const held = this.folders.get(key);
    if (held) {
      this.folders.delete(key); // to the newest end
      this.folders.set(key, held);
      return held;
    }
    const named = new NamedEntries(await load(), this.caseless);
    this.folders.set(key, named);
    this.names += named.entries.length;
    for (const [oldest, folder] of this.folders) {
      if (this.folders.size <= 1 || (this.folders.size <= this.maxFolders && this.names <= this.maxNames)) break;
      this.folders.delete(oldest);
      this.names -= folder.entries.length;
    }
    return named;
  }
}
