// Which tape library the home's tape jobs use: the built-in virtual one (the default, the demo
// lab's), or a real library configured by address (iSCSI target, SCSI generic devices). A real
// library is proven before it is stored (connected, changer and drives found), its CHAP secret goes
// to the secret store, and it is reconnected lazily on first use after an engine start. The open
// library is kept for the engine's life and closed (iSCSI logout) with it.
import { randomUUID } from 'node:crypto';
import type { ScsiUnit, TapeLibrarySource, TapeLibrarySummary } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { LibraryDescription, ScsiTapeLibrary } from '../drivers/scsi/scsi-library.ts';
import type { TapeLibrary } from '../drivers/tape/tape-driver.ts';
import { VirtualTapeLibrary } from '../drivers/tape/virtual-library.ts';
import { LifeboatError } from '../errors.ts';
import type { SecretStore } from '../secrets/secret-store.ts';

/** A real library: the SCSI driver's, which says what it found (describe) and logs out (close). */
export type RealLibrary = TapeLibrary & Pick<ScsiTapeLibrary, 'describe' | 'close'>;
type UnitDescription = LibraryDescription['changer'];

export type LibraryOpener = (
  url: string,
  options: {
    name: string;
    lun?: number | undefined;
    blockSize?: number | undefined;
    chap?: { user: string; secret: string } | undefined;
  },
) => Promise<RealLibrary>;

export type OpenedLibrary =
  | { kind: 'virtual'; library: VirtualTapeLibrary; source: TapeLibrarySource }
  | { kind: 'real'; library: RealLibrary; source: TapeLibrarySource; config: TapeLibrarySummary };

export type AddLibraryRequest = {
  url: string;
  name?: string | undefined;
  lun?: number | undefined;
  blockSize?: number | undefined;
  chap?: { user: string; secret: string } | undefined;
};

export type LibraryChoiceDeps = {
  /** The virtual library's folder in the home. */
  folder: string;
  catalog: Catalog;
  secrets: SecretStore;
  open: LibraryOpener;
};

const VIRTUAL = 'virtual';

const virtualSource: TapeLibrarySource = { kind: 'virtual', configured: null, address: null, changer: null, drives: [] };

const unit = ({ address, vendor, product, revision, serial }: UnitDescription): ScsiUnit => ({
  address,
  vendor,
  product,
  revision,
  serial,
});

export function sourceOf(config: TapeLibrarySummary, description: LibraryDescription): TapeLibrarySource {
  return {
    kind: config.kind,
    configured: config.name,
    address: config.url,
    changer: unit(description.changer),
    drives: description.drives.map((drive) => ({ ...unit(drive), element: drive.element })),
  };
}

export function libraryKind(url: string): 'iscsi' | 'sg' {
  if (url.startsWith('iscsi://')) return 'iscsi';
  if (url.startsWith('sg:')) return 'sg';
  throw new LifeboatError('bad-request', `"${url}" is no library address: use iscsi://HOST[:PORT]/IQN or sg:/dev/sgN[,/dev/sgM…]`);
}

/** The default name of a library: the IQN's last part, or the first sg device's name. */
export function defaultLibraryName(url: string): string {
  const tail = url.startsWith('sg:')
    ? url.slice(3).split(',')[0]?.split('/').filter(Boolean).at(-1)
    : url
        .replace(/\/+$/, '')
        .replace(/\/\d+$/, '')
        .split(/[/:]/)
        .filter(Boolean)
        .at(-1);
  const name = (tail ?? '')
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name === '' || name === VIRTUAL ? 'library' : name;
}

export class LibraryChoice {
  private readonly deps: LibraryChoiceDeps;
  private opened: Promise<OpenedLibrary> | null = null;

  constructor(deps: LibraryChoiceDeps) {
    this.deps = deps;
  }

  /** The library in use, opened on first use; a failed open is tried again next time. */
  current(): Promise<OpenedLibrary> {
    if (!this.opened) {
      const opening = this.openInUse();
      this.opened = opening;
      opening.catch(() => {
        if (this.opened === opening) this.opened = null;
      });
    }
    return this.opened;
  }

  private async openInUse(): Promise<OpenedLibrary> {
    const config = this.deps.catalog.tapeLibraries.inUse();
    if (!config) return { kind: 'virtual', library: await VirtualTapeLibrary.open(this.deps.folder), source: virtualSource };
    const secret = config.chapUser ? await this.deps.secrets.get(config.id) : null;
    const library = await this.openReal(config.url, {
      name: config.name,
      lun: config.lun ?? undefined,
      blockSize: config.blockSize ?? undefined,
      chap: config.chapUser && secret ? { user: config.chapUser, secret } : undefined,
    });
    return { kind: 'real', library, source: sourceOf(config, library.describe()), config };
  }

  /** Opens a real library; any failure names the library's address. */
  private async openReal(url: string, options: Parameters<LibraryOpener>[1]): Promise<RealLibrary> {
    try {
      return await this.deps.open(url, options);
    } catch (error) {
      const code = error instanceof LifeboatError ? error.code : 'unavailable';
      const why = error instanceof Error ? error.message : String(error);
      throw new LifeboatError(
        code === 'internal' ? 'unavailable' : code,
        why.includes(url) ? `tape library "${options.name}": ${why}` : `tape library "${options.name}" at ${url}: ${why}`,
        { cause: error },
      );
    }
  }

  /** Lets go of the open library (a real one logs out); the next use opens the one in use then. */
  async release(): Promise<void> {
    const opened = this.opened;
    this.opened = null;
    if (!opened) return;
    const library = await opened.catch(() => null);
    if (library?.kind === 'real') await library.library.close().catch(() => undefined);
  }

  async add(request: AddLibraryRequest, actor: string): Promise<TapeLibrarySummary> {
    const { catalog, secrets } = this.deps;
    const kind = libraryKind(request.url);
    if (kind !== 'iscsi' && (request.chap || request.lun !== undefined))
      throw new LifeboatError('bad-request', 'CHAP and --lun are for iSCSI libraries only: an sg library is the devices it names');
    const name = request.name ?? defaultLibraryName(request.url);
    if (name === VIRTUAL) throw new LifeboatError('bad-request', '"virtual" names the built-in library; pick another --name');
    if (catalog.tapeLibraries.find(name))
      throw new LifeboatError('conflict', `a tape library named "${name}" is already configured; \`tape library remove ${name}\` first`);
    // Prove the address, the credentials and the library before anything is stored.
    const library = await this.openReal(request.url, { name, lun: request.lun, blockSize: request.blockSize, chap: request.chap });
    const config: TapeLibrarySummary = {
      id: randomUUID(),
      name,
      kind,
      url: request.url,
      lun: request.lun ?? null,
      blockSize: request.blockSize ?? null,
      chapUser: request.chap?.user ?? null,
      inUse: true,
      createdAt: new Date().toISOString(),
    };
    try {
      if (request.chap) await secrets.put(config.id, request.chap.secret);
      await this.release();
      catalog.tapeLibraries.addInUse(config);
    } catch (error) {
      if (request.chap) await secrets.remove(config.id).catch(() => undefined);
      await library.close().catch(() => undefined);
      throw error;
    }
    this.opened = Promise.resolve({ kind: 'real', library, source: sourceOf(config, library.describe()), config });
    catalog.audit(actor, 'tape.library.add', config.id, {
      name,
      url: config.url,
      lun: config.lun,
      blockSize: config.blockSize,
      chapUser: config.chapUser,
      ...(request.chap ? { secretStore: secrets.kind } : {}),
    });
    return config;
  }

  async list(): Promise<{ inUse: string; virtualExists: boolean; libraries: TapeLibrarySummary[] }> {
    const libraries = this.deps.catalog.tapeLibraries.list();
    return {
      inUse: libraries.find((library) => library.inUse)?.name ?? VIRTUAL,
      virtualExists: await VirtualTapeLibrary.exists(this.deps.folder),
      libraries,
    };
  }

  /** Makes `name` (or 'virtual') the library tape jobs use; it is opened on its first use. */
  async use(name: string, actor: string): Promise<void> {
    const { catalog } = this.deps;
    if (name === VIRTUAL) {
      if (!(await VirtualTapeLibrary.exists(this.deps.folder)))
        throw new LifeboatError('not-found', 'there is no virtual library in this home; `lifeboat tape library create` makes one');
      await this.useVirtual();
    } else {
      const config = catalog.tapeLibraries.find(name);
      if (!config) throw new LifeboatError('not-found', `no tape library "${name}"; \`lifeboat tape library list\` shows them`);
      await this.release();
      catalog.tapeLibraries.use(config.id);
    }
    catalog.audit(actor, 'tape.library.use', null, { name });
  }

  /** Back to the virtual library (a new one was just made). */
  async useVirtual(): Promise<void> {
    await this.release();
    this.deps.catalog.tapeLibraries.use(null);
  }

  async remove(name: string, actor: string): Promise<{ removed: string }> {
    const { catalog, secrets } = this.deps;
    const config = catalog.tapeLibraries.find(name);
    if (!config) throw new LifeboatError('not-found', `no tape library "${name}"; \`lifeboat tape library list\` shows them`);
    if (config.inUse) await this.release();
    catalog.tapeLibraries.remove(config.id);
    if (config.chapUser) await secrets.remove(config.id);
    catalog.audit(actor, 'tape.library.remove', config.id, { name, url: config.url });
    return { removed: name };
  }
}
