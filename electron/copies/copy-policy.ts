// What a copy policy asks for, in repositories: LRS keeps three copies in the primary's region,
// ZRS three in separate zones of that region, GRS the LRS copies plus one in another region (the
// paired secondary). The primary repository counts as one of the copies.
import type { CopyPolicy, PointCopy, RepositorySite } from '../../shared/domain.ts';

const LOCAL_COPIES = 3;

function byName(a: RepositorySite, b: RepositorySite): number {
  return a.name.localeCompare(b.name);
}

/** The copy repositories a policy writes to, or why the repositories cannot meet it. */
export function policyTargets(policy: CopyPolicy, sites: RepositorySite[]): { targets: RepositorySite[]; problem: string | null } {
  const primary = sites.find((site) => site.role === 'primary');
  if (!primary || policy === 'none') return { targets: [], problem: null };
  const copies = sites.filter((site) => site.role === 'copy').sort(byName);
  const inRegion = copies.filter((site) => site.region === primary.region);
  const local: RepositorySite[] = [];
  if (policy === 'zrs') {
    const zones = new Set([primary.zone]);
    for (const site of inRegion) {
      if (local.length < LOCAL_COPIES - 1 && !zones.has(site.zone)) {
        zones.add(site.zone);
        local.push(site);
      }
    }
  } else {
    local.push(...inRegion.slice(0, LOCAL_COPIES - 1));
  }
  const problems: string[] = [];
  if (local.length < LOCAL_COPIES - 1) {
    const more = LOCAL_COPIES - 1 - local.length;
    problems.push(
      policy === 'zrs'
        ? `${more} more repositor${more === 1 ? 'y' : 'ies'} in region ${primary.region}, each in a zone of its own (not ${[primary.zone, ...local.map((site) => site.zone)].join(', ')})`
        : `${more} more repositor${more === 1 ? 'y' : 'ies'} in region ${primary.region}`,
    );
  }
  const remote = policy === 'grs' ? copies.find((site) => site.region !== primary.region) : undefined;
  if (policy === 'grs' && !remote) problems.push(`a repository in another region than ${primary.region} (the paired secondary)`);
  const targets = remote ? [...local, remote] : local;
  const problem =
    problems.length > 0
      ? `${policy.toUpperCase()} needs ${problems.join(' and ')}; \`lifeboat repos add NAME --path DIR --region R --zone Z\` adds one`
      : null;
  return { targets, problem };
}

/** What a point's complete repository copies lack to meet the policy (empty: it is met). */
export function lackingCopies(policy: CopyPolicy, primary: RepositorySite, copies: PointCopy[]): string[] {
  if (policy === 'none') return [];
  const held = copies.filter((copy) => copy.kind === 'repository' && copy.state === 'complete');
  const local = held.filter((copy) => copy.region === primary.region);
  const lacking: string[] = [];
  const count = policy === 'zrs' ? new Set(local.map((copy) => copy.zone)).size : local.length;
  if (count < LOCAL_COPIES)
    lacking.push(
      `${LOCAL_COPIES - count} more cop${LOCAL_COPIES - count === 1 ? 'y' : 'ies'} in region ${primary.region}${policy === 'zrs' ? ' (separate zones)' : ''}`,
    );
  if (policy === 'grs' && !held.some((copy) => copy.region !== primary.region)) lacking.push('a copy in the secondary region');
  return lacking;
}
