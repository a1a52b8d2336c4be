// Which copy a restore reads: the fastest that is whole. The primary repository first (snapshot
// tier), then copies in its region, then copies in other regions (vault tier). A copy is taken
// only when its chain resolves there: every link, data file size and block map hash checked.
// A drill (or an outage the operator already knows of) names the region to restore from.
import type { RepositorySite } from '../../shared/domain.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { KeyLookup, Repository } from '../repository/repository.ts';

export type PickedSource = {
  repository: Repository;
  site: RepositorySite;
  /** One line for the job log: where the restore reads from and why. */
  note: string;
  /** The copies passed over, each with why. */
  passedOver: string[];
};

export type PickRequest = {
  vmId: string;
  vmName: string;
  pointId: string;
  sequence: number;
  /** Sites in the catalog, primary first. */
  sites: RepositorySite[];
  /** Copy repositories the catalog says hold the point. */
  copiedTo: Set<string>;
  /** Restore from this region only (a cross-region restore or a drill). */
  fromRegion?: string | undefined;
  /** Barcodes of the tapes that hold the point (vault tier, read by a tape restore). */
  onTape: string[];
  /** Newest point of the VM each site holds (for saying how stale a copy is). */
  newestIn: (site: RepositorySite) => number | null;
  open: (site: RepositorySite) => Promise<Repository>;
  /** The keys for an encrypted point, unlocked from that repository's key file. */
  unlock: (repository: Repository) => Promise<KeyLookup>;
};

function describe(site: RepositorySite): string {
  return `${site.name} (${site.role === 'primary' ? 'snapshot tier' : 'vault tier'}, region ${site.region}, zone ${site.zone})`;
}

function ordered(sites: RepositorySite[]): RepositorySite[] {
  const primary = sites.find((site) => site.role === 'primary');
  const rank = (site: RepositorySite): number => (site.role === 'primary' ? 0 : site.region === primary?.region ? 1 : 2);
  return [...sites].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name));
}

export async function pickSource(request: PickRequest): Promise<PickedSource> {
  const label = `point ${request.sequence} of ${request.vmName}`;
  const inRegion = ordered(request.sites).filter((site) => request.fromRegion === undefined || site.region === request.fromRegion);
  if (inRegion.length === 0)
    throw new LifeboatError('not-found', `no repository is in region ${request.fromRegion}; \`lifeboat repos list\` shows the regions`);
  const holding = inRegion.filter((site) => site.role === 'primary' || request.copiedTo.has(site.id));
  if (holding.length === 0) {
    const newest = Math.max(0, ...inRegion.map((site) => request.newestIn(site) ?? 0));
    const held = newest === 0 ? 'holds no point of this VM' : `holds points up to ${newest}`;
    throw new LifeboatError(
      'not-found',
      `the copy in region ${request.fromRegion} is stale: it ${held}, not ${label}; run \`lifeboat copies run\` first`,
    );
  }
  const passedOver: string[] = [];
  let failure: unknown = null;
  for (const site of holding) {
    try {
      const opened = await request.open(site);
      const repository = opened.withKeys(await request.unlock(opened));
      await resolvePoint(repository, request.vmId, request.pointId);
      const why =
        passedOver.length > 0
          ? ` because ${passedOver.length === 1 ? 'a faster copy' : 'faster copies'} could not be read`
          : request.fromRegion
            ? ` as asked (region ${request.fromRegion})`
            : ', the fastest copy';
      return { repository, site, note: `reading ${label} from ${describe(site)}${why}`, passedOver };
    } catch (error) {
      // A wrong password or recovery key is the operator's to fix: no other copy would take it.
      if (error instanceof LifeboatError && (error.code === 'unauthorized' || error.code === 'bad-request')) throw error;
      passedOver.push(`${site.name}: ${(error as Error).message}`);
      failure = error;
    }
  }
  const tape =
    request.onTape.length > 0 ? `; it is also on tape (${request.onTape.join('; ')}): \`lifeboat restore tape\` reads it from there` : '';
  // With one copy its own error says it best (a truncated file, a missing link).
  const only = holding.length === 1 ? holding[0] : undefined;
  if (only && failure instanceof LifeboatError) {
    const where = only.role === 'primary' ? '' : `the copy of ${label} in ${only.name} (region ${only.region}) is incomplete: `;
    throw new LifeboatError(failure.code, `${where}${failure.message}${tape}`);
  }
  throw new LifeboatError('unavailable', `no copy of ${label} can be read: ${passedOver.join('; ')}${tape}`);
}

/** A job that first says where it reads from, and records it in its result. */
export function readingFrom(work: JobWork, source: PickedSource): JobWork {
  return {
    plan: work.plan.withPrelude((context) => {
      for (const skipped of source.passedOver) context.log(`passed over ${skipped}`, 'warning');
      context.log(source.note);
    }),
    finish: (succeeded) => work.finish(succeeded),
    result: () => ({
      ...work.result(),
      source: {
        repository: source.site.name,
        region: source.site.region,
        zone: source.site.zone,
        tier: source.site.role === 'primary' ? 'snapshot' : 'vault',
      },
    }),
  };
}

/** The summary's note when a restore reads a copy rather than the primary. */
export function fromCopy(source: PickedSource): string {
  return source.site.role === 'primary' ? '' : ` from copy ${source.site.name} (region ${source.site.region})`;
}
