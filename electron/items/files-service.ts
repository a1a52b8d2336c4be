// The files inside restore points: browsing and previewing them (the opened points kept for a
// while), indexing a point's files and searching the index, and restoring items to a folder.
import type { ResponseOf } from '../../shared/contract.ts';
import type { FileEntry, IndexGaps, Job, SearchHit } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { CopyService } from '../copies/copy-service.ts';
import { fromCopy, readingFrom } from '../copies/source-picker.ts';
import type { CallContext, ChannelHandlers, Parsed } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import type { JobQueue, Rerun } from '../jobs/job-queue.ts';
import type { StepContext } from '../jobs/plan.ts';
import { withoutSecrets } from '../keys/key-service.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import type { BlockCache } from '../repository/block-cache.ts';
import type { Repository } from '../repository/repository.ts';
import type { TargetChecks } from '../restore/target-checks.ts';
import { LruCache } from '../filesystems/lru.ts';
import type { IndexPointWork } from './index-point.ts';
import { PointBrowser } from './point-browser.ts';
import { indexedFolderHandler, listingFromIndex } from './indexed-folder.ts';
import { listingOf } from './listed-entry.ts';
import { checkItemPath, type ItemRequest, type RestoreItemsWork } from './restore-items.ts';
import { DownloadTickets } from './download-tickets.ts';
import type { ByteSink } from './archive.ts';

const PREVIEW_BYTES = 256 * 1024;
/** Entries of the folder listings kept (some tens of MiB): a point never changes, so a folder
 * listed again (the console expanding it, `files ls` against a running engine) is answered from
 * here instead of reading its every entry's metadata again. */
const LISTED_ENTRIES_KEPT = 200_000;

/** Image formats a preview shows, known by their first bytes. */
function imageType(bytes: Buffer): string | null {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.toString('latin1', 0, 6) === 'GIF87a' || bytes.toString('latin1', 0, 6) === 'GIF89a') return 'image/gif';
  return null;
}

/** The works the file jobs run (electron/engine/job-works.ts builds them). */
export type FilesWorks = {
  /** `repository` holds the key when a backup just sealed the point. */
  index(vmId: string, pointId: string, repository?: Repository): IndexPointWork;
  items(source: Repository, vmId: string, pointId: string, request: ItemRequest): RestoreItemsWork;
};

export type FilesServiceDeps = {
  catalog: Catalog;
  jobs: JobQueue;
  repository: Repository;
  lookup: VmLookup;
  checks: TargetChecks;
  copies: CopyService;
  works: FilesWorks;
  /** Where browsed points' disks keep their decoded blocks: the engine's shared cache, so a large
   * folder's blocks (its entries and inodes may span many) are decoded once per listing and stay
   * for the next one, under the engine's one memory bound instead of a small cache per disk. */
  blockCache: BlockCache;
  /** Where a download that breaks is told (the engine's standard error). */
  log?: (line: string) => void;
};

/** An index job the engine stopped runs again at the next start: indexing a point replaces
 * its rows, so a second run is safe. (An encrypted point's key must then be remembered.) */
export function indexRerun(catalog: Catalog, works: Pick<FilesWorks, 'index'>): Rerun {
  return (job) => {
    const params = job.kind === 'index' ? (catalog.jobParams(job.id) as { vmId?: unknown; pointId?: unknown } | null) : null;
    if (typeof params?.vmId !== 'string' || typeof params.pointId !== 'string') return null;
    const { vmId, pointId } = params;
    return () => works.index(vmId, pointId);
  };
}

export class FilesService {
  private readonly deps: FilesServiceDeps;
  /** Browsers stay open for a while: expanding a folder should not reopen the point. */
  private readonly browsers = new Map<string, Promise<PointBrowser>>();
  private readonly listings = new LruCache<string, FileEntry[]>(LISTED_ENTRIES_KEPT);
  /** Downloads asked for over the console's socket, fetched by GET /download/<ticket>. */
  readonly downloads = new DownloadTickets();

  constructor(deps: FilesServiceDeps) {
    this.deps = deps;
  }

  private browser(vmId: string, pointId: string): Promise<PointBrowser> {
    const key = `${vmId}/${pointId}`;
    let browser = this.browsers.get(key);
    if (!browser) {
      browser = PointBrowser.open(this.deps.repository, vmId, pointId, { cache: this.deps.blockCache });
      browser.catch(() => this.browsers.delete(key));
      this.browsers.set(key, browser);
      while (this.browsers.size > 4) {
        const [oldest, opened] = this.browsers.entries().next().value as [string, Promise<PointBrowser>];
        this.browsers.delete(oldest);
        void opened.then((old) => old.close()).catch(() => undefined);
      }
    }
    return browser;
  }

  /** The browser of a point the operator named. */
  private browserOf(vmArgument: string, point: string): Promise<PointBrowser> {
    const vm = this.deps.lookup.resolveVm(vmArgument);
    return this.browser(vm.id, this.deps.lookup.resolvePointId(vm.id, point));
  }

  /** A folder's entries; the array may be shared with other callers: not to be changed. Inside a
   * volume they come in name order, from the point's file index where it gives the very listing
   * the point would (a backup indexes its point: tens of milliseconds for 20,000 entries, not the
   * hundreds that decoding every block under them takes); `fromPoint` reads the point regardless. */
  async list(vmArgument: string, point: string, path: string, { fromPoint = false } = {}): Promise<FileEntry[]> {
    const vm = this.deps.lookup.resolveVm(vmArgument);
    const pointId = this.deps.lookup.resolvePointId(vm.id, point);
    const key = `${vm.id}/${pointId}\0${fromPoint ? 'point' : 'any'}\0${path}`;
    const kept = this.listings.get(key);
    if (kept) return kept;
    const listed =
      (fromPoint ? null : listingFromIndex(this.deps.catalog, vm.id, pointId, path)) ?? (await this.listFromPoint(vm.id, pointId, path));
    this.listings.set(key, listed, Math.max(1, listed.length));
    return listed;
  }

  private async listFromPoint(vmId: string, pointId: string, path: string): Promise<FileEntry[]> {
    const browser = await this.browser(vmId, pointId);
    return listingOf(path, await browser.list(path));
  }

  /** The first bytes of a file, for the console's preview: text, an image, or just binary. */
  async preview(vmArgument: string, point: string, path: string): Promise<ResponseOf<'files.preview'>> {
    const browser = await this.browserOf(vmArgument, point);
    const entry = await browser.stat(path);
    if (entry.type !== 'file') throw new LifeboatError('bad-request', `${path} is not a file`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of browser.read(path)) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= PREVIEW_BYTES) break;
    }
    const bytes = Buffer.concat(chunks).subarray(0, PREVIEW_BYTES);
    const image = imageType(bytes);
    const text = !image && !bytes.subarray(0, 8192).includes(0);
    return {
      kind: image ? 'image' : text ? 'text' : 'binary',
      mime: image ?? (text ? 'text/plain' : 'application/octet-stream'),
      size: entry.size,
      truncated: entry.size > bytes.length,
      base64: image && entry.size > bytes.length ? '' : bytes.toString('base64'),
    };
  }

  /** The VM, point and copy items are read from: one path for restores and downloads, so both
   * name VMs and points, pick the copy and unlock an encrypted point alike. */
  private async itemSource(request: Parsed<'files.restore'> | Parsed<'files.download'>) {
    const vm = this.deps.lookup.resolveVm(request.vm);
    const pointId = this.deps.lookup.resolvePointId(vm.id, request.point);
    const source = await this.deps.copies.sourceFor(vm, pointId, request);
    const sequence = this.deps.catalog.listPoints(vm.id).find((point) => point.id === pointId)?.sequence ?? 'x';
    return { vm, pointId, source, archiveName: `${vm.name}-point-${sequence}-items` };
  }

  async startItemRestore(unchecked: Parsed<'files.restore'>, actor: string): Promise<Job> {
    const { catalog, jobs } = this.deps;
    const request = await this.deps.checks.checkedLocalTarget(unchecked);
    const { vm, pointId, source, archiveName } = await this.itemSource(request);
    const protectedPaths = await this.deps.checks.protectedPaths();
    catalog.audit(actor, 'files.restore', vm.id, {
      pointId,
      paths: request.paths,
      target: request.target.path,
      onClash: request.onClash,
      keepSpecialBits: request.keepSpecialBits ?? false,
      source: source.site.name,
    });
    return jobs.submit(
      {
        kind: 'restore-items',
        vmId: null,
        vmName: vm.name,
        summary: `Restore ${request.paths.length} item(s) of ${vm.name} to ${request.target.path}${fromCopy(source)}`,
        params: { ...withoutSecrets(request), pointId },
        requestedBy: actor,
      },
      () =>
        readingFrom(
          this.deps.works.items(source.repository, vm.id, pointId, {
            paths: request.paths,
            targetPath: request.target.path,
            onClash: request.onClash,
            archive: request.archive,
            keepSpecialBits: request.keepSpecialBits,
            protectedPaths,
            archiveName,
          }),
          source,
        ),
    );
  }

  /** A ticket for the picked items as one archive, streamed to the browser console that asked
   * (GET /download/<ticket>, rpc/download-route.ts). Only a console session can fetch it: the
   * app and the CLI write items to a folder instead. */
  async download(request: Parsed<'files.download'>, { actor, consoleSession }: CallContext): Promise<ResponseOf<'files.download'>> {
    if (!consoleSession) throw new LifeboatError('bad-request', 'download works in the browser console; use Restore to folder');
    for (const path of request.paths) checkItemPath(path);
    const { vm, pointId, source, archiveName } = await this.itemSource(request);
    const name = `${escapeGuestName(archiveName).name}.${request.format}`;
    this.deps.catalog.audit(actor, 'files.download', vm.id, {
      pointId,
      paths: request.paths,
      format: request.format,
      layout: request.layout,
      source: source.site.name,
    });
    const { ticket, expiresAt } = this.downloads.issue({
      session: consoleSession,
      name,
      contentType: request.format === 'zip' ? 'application/zip' : 'application/x-tar',
      write: (sink, signal) => {
        // A download writes no folder: the items' walk is a restore's, the target is the sink.
        const work = this.deps.works.items(source.repository, vm.id, pointId, {
          paths: request.paths,
          targetPath: '',
          onClash: 'keep-both',
        });
        return this.writeDownload(work, request, sink, signal, name);
      },
    });
    return { url: `/download/${ticket}`, expiresAt: expiresAt.toISOString(), name };
  }

  private async writeDownload(
    work: RestoreItemsWork,
    { format, layout }: Parsed<'files.download'>,
    sink: ByteSink,
    signal: AbortSignal,
    name: string,
  ): Promise<void> {
    const log = this.deps.log ?? ((line: string) => process.stderr.write(`lifeboat: ${line}\n`));
    // No job around a download: its warnings go to the engine's log, its progress nowhere.
    const context: StepContext = {
      signal,
      resources: { record: () => 0, update: () => undefined },
      progress: () => undefined,
      log: (message, level = 'info') => {
        if (level !== 'info') log(`download ${name}: ${message}`);
      },
      waiting: () => undefined,
      busy: () => undefined,
    };
    try {
      await work.streamArchive(sink, format, layout, context);
    } catch (error) {
      log(`download ${name} broken off: ${(error as Error).message}`);
      throw error;
    } finally {
      await work.finish();
    }
  }

  /** Indexes a point's files; `repository` holds the key when the backup just sealed the point. */
  startIndex(vmId: string, vmName: string, pointId: string, actor: string, repository = this.deps.repository): Job {
    this.deps.catalog.audit(actor, 'files.index', vmId, { pointId });
    return this.deps.jobs.submit({ kind: 'index', vmId, vmName, summary: `Index the files of ${vmName}`, params: { vmId, pointId } }, () =>
      this.deps.works.index(vmId, pointId, repository),
    );
  }

  /** The hits, and the indexed points whose index has gaps: a file in one of them may be missing. */
  search(pattern: string, vmArgument: string | undefined): { hits: SearchHit[]; gaps: IndexGaps[] } {
    const { catalog } = this.deps;
    const vmId = vmArgument === undefined ? null : this.deps.lookup.resolveVm(vmArgument).id;
    const names = new Map(catalog.listVms().map((vm) => [vm.id, vm.name]));
    return {
      hits: catalog.files.search(pattern, vmId).map((hit) => ({ ...hit, vmName: names.get(hit.vmId) ?? hit.vmId })),
      gaps: catalog.files.gaps(vmId).map((point) => ({ ...point, vmName: names.get(point.vmId) ?? point.vmId })),
    };
  }

  /** Closes the browsers still open (at the engine's stop). */
  async close(): Promise<void> {
    for (const browser of this.browsers.values()) await browser.then((opened) => opened.close()).catch(() => undefined);
  }
}

export function filesHandlers(
  files: FilesService,
  lookup: VmLookup,
  catalog: Catalog,
): ChannelHandlers<
  'files.list' | 'files.listIndexed' | 'files.preview' | 'files.restore' | 'files.download' | 'files.index' | 'files.search'
> {
  return {
    'files.download': async (request, context) => files.download(request, context),
    'files.list': async ({ vm, point, path, fromPoint }) => files.list(vm, point, path, { fromPoint }),
    ...indexedFolderHandler(catalog, lookup),
    'files.restore': async (request, { actor }) => ({ job: await files.startItemRestore(request, actor) }),
    'files.preview': async ({ vm, point, path }) => files.preview(vm, point, path),
    'files.index': async ({ vm, point }, { actor }) => {
      const found = lookup.resolveVm(vm);
      return { job: files.startIndex(found.id, found.name, lookup.resolvePointId(found.id, point), actor) };
    },
    'files.search': async ({ pattern, vm }) => files.search(pattern, vm),
  };
}
