// A copy job: brings the copy repositories up to the copy policy. Points are copied oldest first
// (an incremental needs its parents there), each into a partial folder of every target lacking
// it: each file is read and hashed once, written to all of them and synced, then read back and
// hashed in each (in parallel workers); only when every hash agrees is the point published there
// and recorded. A point whose copy fails is not published; the job stops.
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyPolicy, RepositorySite } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import type { FileHashResult } from '../workers/messages.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { lackingCopies, policyTargets } from './copy-policy.ts';

export type CopyWorkOptions = {
  primary: Repository;
  catalog: Catalog;
  pool: WorkerPool;
  policy: CopyPolicy;
  /** null: every VM. */
  vmIds: string[] | null;
  openSite: (site: RepositorySite) => Promise<Repository>;
};

type CopyTarget = { site: RepositorySite; repository: Repository };
/** A point and the targets that lack it. */
type PlannedCopy = { manifest: Manifest; targets: CopyTarget[] };

const PROGRESS_POLL_MS = 250;

/** The bytes a planned copy writes (its data file to each target; the small maps are not counted). */
function copyBytes(copy: PlannedCopy): number {
  return copy.manifest.dataFile.size * copy.targets.length;
}

/** The bytes the whole job writes. */
function totalBytes(planned: PlannedCopy[]): number {
  return planned.reduce((sum, copy) => sum + copyBytes(copy), 0);
}

export class CopyWork implements JobWork {
  static readonly plan = Plan.of<CopyWork>()
    .step('plan-copies', 'Plan: the copies the policy asks for that are missing', (work, _none, context) => work.planCopies(context))
    .step('copy-points', 'Copy each point, read it back, compare hashes, publish it', (work, planned, context) =>
      work.copyAll(planned, context),
    )
    .step('check-policy', 'Check every point against the policy', (work, _none, context) => work.checkPolicy(context));
  readonly plan = CopyWork.plan.bind(this);
  private readonly options: CopyWorkOptions;
  // What result() reports.
  private copied = 0;
  private bytes = 0;
  private meeting = 0;
  private points = 0;

  constructor(options: CopyWorkOptions) {
    this.options = options;
  }

  private vmIds(): string[] {
    return this.options.vmIds ?? this.options.catalog.listVms().map((vm) => vm.id);
  }

  /** Every point, oldest first, with the targets that lack it. */
  private async planCopies(context: StepContext): Promise<PlannedCopy[]> {
    const { catalog, policy, primary } = this.options;
    if (policy === 'none')
      throw new LifeboatError('conflict', 'the copy policy is none: set one first (`lifeboat copies policy lrs|zrs|grs`)');
    const { targets: sites, problem } = policyTargets(policy, catalog.copies.sites());
    if (problem) throw new LifeboatError('conflict', problem);
    const targets: CopyTarget[] = [];
    const planned: PlannedCopy[] = [];
    for (const site of sites) targets.push({ site, repository: await this.options.openSite(site) });
    for (const vmId of this.vmIds()) {
      for (const manifest of await primary.listPoints(vmId)) {
        const recorded = new Set(catalog.copies.copyRows(manifest.id).map((row) => row.repositoryId));
        const lacking: CopyTarget[] = [];
        for (const target of targets) {
          if (!recorded.has(target.site.id) || !(await exists(join(target.repository.pointFolder(manifest), 'manifest.json'))))
            lacking.push(target);
        }
        if (lacking.length > 0) planned.push({ manifest, targets: lacking });
      }
    }
    const copies = planned.reduce((sum, copy) => sum + copy.targets.length, 0);
    context.progress(0, totalBytes(planned));
    context.log(
      `${policy.toUpperCase()} to ${sites.map((site) => `${site.name} (${site.region}/${site.zone})`).join(', ')}: ${copies} point cop${copies === 1 ? 'y' : 'ies'} to make, ${totalBytes(planned)} bytes`,
    );
    return planned;
  }

  private async copyAll(planned: PlannedCopy[], context: StepContext): Promise<void> {
    const total = totalBytes(planned);
    for (const copy of planned) {
      throwIfCancelled(context.signal);
      await this.copyPoint(copy, total, context);
      this.copied += copy.targets.length;
    }
  }

  /** A point's partial folder in a target, made anew (with the chain's wrapped key, if any). */
  private async prepare(manifest: Manifest, { repository }: CopyTarget, context: StepContext): Promise<string> {
    const partial = repository.partialFolder(manifest.vmId, manifest.id);
    context.resources.record('partial-point', { path: partial });
    await rm(partial, { recursive: true, force: true });
    // A folder the catalog does not vouch for (an earlier copy it never recorded) is made anew.
    await rm(repository.pointFolder(manifest), { recursive: true, force: true });
    await repository.ensureVm(manifest.vmId, manifest.vmName);
    await mkdir(partial, { recursive: true });
    if (manifest.encryption) await this.copyKeyFile(manifest.encryption.keyId, repository);
    return partial;
  }

  /** `total`: the bytes of the whole job, for its progress. */
  private async copyPoint(copy: PlannedCopy, total: number, context: StepContext): Promise<void> {
    const { manifest, targets } = copy;
    const { primary, catalog, pool } = this.options;
    const label = `${manifest.vmName} point ${manifest.sequence}`;
    const partials: string[] = [];
    for (const target of targets) partials.push(await this.prepare(manifest, target, context));
    const source = primary.pointFolder(manifest);
    const control = new Int32Array(new SharedArrayBuffer(4));
    const progress = new Float64Array(new SharedArrayBuffer(8));
    const base = this.bytes;
    const onAbort = (): void => {
      Atomics.store(control, 0, 1);
    };
    context.signal.addEventListener('abort', onAbort);
    // The maps are copied too: progress counts them but never passes the point's share.
    const timer = setInterval(() => context.progress(base + Math.min(progress[0] as number, copyBytes(copy)), total), PROGRESS_POLL_MS);
    let dataSha256 = '';
    try {
      for (const name of [manifest.dataFile.name, ...manifest.disks.map((disk) => disk.mapFile)]) {
        const written = await pool.run<FileHashResult>({
          type: 'copy-file',
          source: join(source, name),
          targets: partials.map((partial) => join(partial, name)),
          control,
          progress,
        });
        const expected = manifest.disks.find((disk) => disk.mapFile === name)?.mapSha256 ?? written.sha256;
        if (written.sha256 !== expected)
          throw new LifeboatError(
            'corrupt-backup',
            `${label}: ${name} in the primary does not match its manifest's hash; verify the chain`,
          );
        if (name === manifest.dataFile.name) {
          if (written.bytes !== manifest.dataFile.size)
            throw new LifeboatError(
              'corrupt-backup',
              `${label}: the data file is ${written.bytes} bytes, its manifest says ${manifest.dataFile.size}`,
            );
          dataSha256 = written.sha256;
        }
        const readBack = await Promise.all(
          partials.map((partial) => pool.run<FileHashResult>({ type: 'hash-file', path: join(partial, name), control })),
        );
        readBack.forEach((result, index) => {
          if (result.sha256 !== written.sha256)
            throw new LifeboatError(
              'corrupt-backup',
              `${label}: ${name} reads back from ${targets[index]?.site.name} with another SHA-256 than was written; the copy is not published`,
            );
        });
      }
    } catch (error) {
      for (const partial of partials) await rm(partial, { recursive: true, force: true });
      throw error;
    } finally {
      clearInterval(timer);
      context.signal.removeEventListener('abort', onAbort);
    }
    for (const [index, { site, repository }] of targets.entries()) {
      await repository.commitPoint(partials[index] as string, manifest);
      catalog.copies.recordCopy(manifest.id, site.id, dataSha256, manifest.dataFile.size);
    }
    this.bytes += copyBytes(copy);
    context.progress(this.bytes, total);
    context.log(
      `${label} to ${targets.map(({ site }) => `${site.name} (${site.region}/${site.zone})`).join(', ')}: ${manifest.dataFile.size} bytes each, SHA-256 ${dataSha256.slice(0, 16)}… read back equal from each`,
    );
  }

  /** An encrypted point's copy carries its wrapped key: a copy must restore where the primary is gone. */
  private async copyKeyFile(keyId: string, target: Repository): Promise<void> {
    if (await exists(target.keyFilePath(keyId))) return;
    await target.writeKeyFile(await this.options.primary.readKeyFile(keyId));
  }

  private async checkPolicy(context: StepContext): Promise<void> {
    const { catalog, policy } = this.options;
    const primary = catalog.copies.sites().find((site) => site.role === 'primary');
    if (!primary) return;
    for (const vmId of this.vmIds()) {
      for (const point of catalog.listPoints(vmId)) {
        this.points++;
        const lacking = lackingCopies(policy, primary, point.copies);
        if (lacking.length === 0) this.meeting++;
        else context.log(`point ${point.sequence} of ${vmId} still lacks ${lacking.join(' and ')}`, 'warning');
      }
    }
    context.log(`${this.meeting} of ${this.points} point(s) meet ${policy.toUpperCase()}`);
  }

  async finish(): Promise<void> {}

  result(): Record<string, unknown> {
    return { policy: this.options.policy, copied: this.copied, bytes: this.bytes, pointsMeetingPolicy: this.meeting, points: this.points };
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return false;
    throw error;
  }
}
