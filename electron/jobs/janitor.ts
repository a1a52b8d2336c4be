// The janitor: removes what jobs recorded and did not get to clean up (the engine died, or their
// cleanup failed). It keeps what an interrupted restore needs to resume, until it is resumed or
// discarded. What it cannot remove now stays recorded for the next start, and is said in the
// owning job's log. It knows no driver: each feature registers the cleaner of the resources its
// jobs record, and the engine checks at start that every kind has one.
import { resourceKinds, type Catalog, type JobResource, type ResourceKind } from '../catalog/catalog.ts';
import { finishedJobStates } from '../../shared/domain.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import { isResumableJob } from './resumable.ts';
import { killPoint } from '../kill-point.ts';

/** One run of the janitor, as a cleaner sees it: what a cleaner opened for the run (one session
 * per vSphere host, shared by its leftovers) it releases at the run's end. */
export type JanitorRun = { atEnd(release: () => Promise<void>): void };
/** Removes one leftover; says what it did (or why there was nothing to do), for the job's log. */
export type Cleaner = (resource: JobResource, run: JanitorRun) => Promise<string>;

/** A field of what the job recorded; a record without it cannot be cleaned (and stays said). */
export function refField(resource: JobResource, name: string): string {
  const value = resource.ref[name];
  if (value === undefined) throw new LifeboatError('internal', `the ${resource.kind} record has no ${name}`);
  return value;
}

/** Resources an interrupted restore to a local folder needs for `jobs resume`. */
function keptForResume(catalog: Catalog, resource: JobResource): boolean {
  if (resource.kind !== 'staging-folder' && resource.kind !== 'target-folder' && resource.kind !== 'published-file') return false;
  return catalog.getJob(resource.jobId)?.state === 'interrupted' && isResumableJob(catalog, resource.jobId);
}

export class Janitor {
  private readonly catalog: Catalog;
  private readonly cleaners = new Map<ResourceKind, Cleaner>();

  constructor(catalog: Catalog) {
    this.catalog = catalog;
  }

  register(kind: ResourceKind, cleaner: Cleaner): this {
    if (this.cleaners.has(kind)) throw new LifeboatError('internal', `the janitor already has a cleaner for ${kind}`);
    this.cleaners.set(kind, cleaner);
    return this;
  }

  /** Ends registration: a kind without a cleaner would leave its leftovers behind unsaid. */
  checkComplete(): void {
    const missing = resourceKinds.filter((kind) => !this.cleaners.has(kind));
    if (missing.length > 0) throw new LifeboatError('internal', `the janitor has no cleaner for ${missing.join(', ')}`);
  }

  private endedOn(jobId: string, host: string): boolean {
    if (!finishedJobStates.has(this.catalog.getJob(jobId)?.state ?? 'running')) return false;
    const ranOn = this.catalog.engines.hostOf(this.catalog.engines.placement(jobId)?.engineId ?? null);
    return ranOn === null || ranOn === host;
  }

  /** Cleans up open resources (of one job, or all); returns how many were removed. */
  /** `onlyEndedOn`: (engines sharing a catalog) only what ended jobs left that engines of this host
   * ran: an unfinished job's is its engine's, or the one that takes it over; another host's files
   * are on that host. */
  async run(options: { jobId?: string; keepResumable: boolean; onlyEndedOn?: string }): Promise<number> {
    const open = this.catalog
      .openResources(options.jobId)
      .filter((resource) => !options.keepResumable || !keptForResume(this.catalog, resource))
      .filter((resource) => options.onlyEndedOn === undefined || this.endedOn(resource.jobId, options.onlyEndedOn));
    const endings: (() => Promise<void>)[] = [];
    const run: JanitorRun = { atEnd: (release) => void endings.push(release) };
    let removed = 0;
    for (const resource of open) {
      const at = new Date().toISOString();
      try {
        const what = await this.cleanerOf(resource.kind)(resource, run);
        killPoint('janitor-removed');
        this.catalog.releaseResources(resource.jobId, [resource.id]);
        this.catalog.addJobEvent(resource.jobId, { at, level: 'info', step: null, message: `janitor: ${what}` });
        removed++;
      } catch (error) {
        this.catalog.addJobEvent(resource.jobId, {
          at,
          level: 'warning',
          step: null,
          message: `janitor: could not clean up ${resource.kind} (${toWireError(error).message}); will retry at the next start`,
        });
      }
    }
    for (const release of endings) await release().catch(() => undefined);
    return removed;
  }

  private cleanerOf(kind: ResourceKind): Cleaner {
    const cleaner = this.cleaners.get(kind);
    if (!cleaner) throw new LifeboatError('internal', `the janitor has no cleaner for ${kind}`);
    return cleaner;
  }
}
