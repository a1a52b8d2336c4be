// Copies and regions for the engine: copy repositories placed in a region and zone, copy jobs
// that bring them up to the policy, each point's copy status (checked on disk, not just in the
// catalog), and the pick of the copy a restore reads.
import { makeFolders } from '../fs/make-folders.ts';
import { isWithin } from '../fs/target-check.ts';
import { randomUUID } from 'node:crypto';
import { access, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CopyStatus, Job, PointCopy, RepositorySite } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import type { KeyCredentials, KeyService } from '../keys/key-service.ts';
import { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { lackingCopies, policyTargets } from './copy-policy.ts';
import { CopyWork } from './copy-work.ts';
import { pickSource, type PickedSource } from './source-picker.ts';

export type SourceChoice = KeyCredentials & { fromRegion?: string | undefined };

export type CopyServiceOptions = { catalog: Catalog; jobs: JobQueue; pool: WorkerPool; primary: Repository; keys: KeyService };

export class CopyService {
  private readonly options: CopyServiceOptions;

  constructor(options: CopyServiceOptions) {
    this.options = options;
  }

  site(name: string): RepositorySite {
    const site = this.options.catalog.copies.site(name);
    if (!site) throw new LifeboatError('not-found', `no repository "${name}"; \`lifeboat repos list\` shows them`);
    return site;
  }

  /** The primary is the engine's own repository; a copy is opened where the catalog says, its
   * manifests checked against the hashes the catalog recorded (a copy's are the primary's). */
  async open(site: RepositorySite): Promise<Repository> {
    if (site.role === 'primary') return this.options.primary;
    const { catalog } = this.options;
    return (await Repository.open(site.path)).withRecordedHashes((pointId) => catalog.manifestSha256(pointId));
  }

  async copyRepositories(): Promise<Repository[]> {
    const opened = await Promise.allSettled(
      this.options.catalog.copies
        .sites()
        .filter((site) => site.role === 'copy')
        .map((site) => this.open(site)),
    );
    return opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  }

  async add(request: { name: string; path: string; region: string; zone: string }, actor: string): Promise<RepositorySite> {
    const { catalog, primary } = this.options;
    if (catalog.copies.site(request.name)) throw new LifeboatError('conflict', `a repository named "${request.name}" already exists`);
    const path = resolve(request.path);
    for (const other of catalog.copies.sites()) {
      if (isWithin(path, other.path) || isWithin(other.path, path))
        throw new LifeboatError('conflict', `${path} overlaps repository ${other.name} (${other.path}); a copy needs a place of its own`);
    }
    await claimFolder(path);
    const repository = await Repository.openOrCreate(path, randomUUID(), primary.info.blockSize);
    if (catalog.copies.site(repository.info.id))
      throw new LifeboatError('conflict', `${path} is repository ${repository.info.id}, already in the catalog`);
    const site: RepositorySite = {
      id: repository.info.id,
      name: request.name,
      path,
      region: request.region,
      zone: request.zone,
      role: 'copy',
      blockSize: repository.info.blockSize,
      createdAt: new Date().toISOString(),
    };
    catalog.copies.addSite(site);
    catalog.audit(actor, 'repos.add', site.id, site);
    return site;
  }

  locate(name: string, region: string, zone: string, actor: string): RepositorySite {
    const site = this.site(name);
    this.options.catalog.copies.locate(site.id, region, zone);
    this.options.catalog.audit(actor, 'repos.locate', site.id, { from: { region: site.region, zone: site.zone }, to: { region, zone } });
    return this.site(name);
  }

  /** Forgets a copy repository (its files stay where they are). */
  remove(name: string, actor: string): void {
    const site = this.site(name);
    if (site.role === 'primary') throw new LifeboatError('conflict', 'the primary repository cannot be removed');
    this.options.catalog.copies.removeSite(site.id);
    this.options.catalog.audit(actor, 'repos.remove', site.id, { name, path: site.path });
  }

  startCopies(vmIds: string[] | null, vmNames: string, actor: string): Job {
    const { catalog, jobs, pool, primary } = this.options;
    const policy = catalog.settings().copyPolicy;
    const { problem } = policyTargets(policy, catalog.copies.sites());
    if (policy === 'none')
      throw new LifeboatError('conflict', 'the copy policy is none: set one first (`lifeboat copies policy lrs|zrs|grs`)');
    if (problem) throw new LifeboatError('conflict', problem);
    // Two copy jobs would write the same partial folders: one at a time.
    const running = catalog.listJobs().find((job) => job.kind === 'copy' && (job.state === 'queued' || job.state === 'running'));
    if (running)
      throw new LifeboatError('conflict', `copy job ${running.id} is ${running.state}; wait for it (\`lifeboat jobs show ${running.id}\`)`);
    catalog.audit(actor, 'copies.run', null, { policy, vms: vmIds ?? 'all' });
    return jobs.submit(
      {
        kind: 'copy',
        vmId: vmIds?.length === 1 ? (vmIds[0] as string) : null,
        vmName: vmNames,
        summary: `Copy ${vmNames} to meet ${policy.toUpperCase()}`,
        params: { policy, vmIds },
        requestedBy: actor,
      },
      () => new CopyWork({ primary, catalog, pool, policy, vmIds, openSite: (site) => this.open(site) }),
    );
  }

  /** Every point's copies, each checked on disk: a copy whose files are gone shows as missing. */
  async status(vmIds: string[] | null): Promise<CopyStatus> {
    const { catalog } = this.options;
    const policy = catalog.settings().copyPolicy;
    const sites = catalog.copies.sites();
    const primary = sites.find((site) => site.role === 'primary') as RepositorySite;
    const byName = new Map(sites.map((site) => [site.name, site]));
    const vms = catalog.listVms().filter((vm) => vmIds === null || vmIds.includes(vm.id));
    const status: CopyStatus = { policy, problem: policyTargets(policy, sites).problem, vms: [] };
    for (const vm of vms) {
      const points = [];
      for (const point of catalog.listPoints(vm.id)) {
        const folder = join('vms', vm.id, 'points', `${String(point.sequence).padStart(6, '0')}-${point.id}`, 'manifest.json');
        const copies: PointCopy[] = [];
        for (const copy of point.copies) {
          const site = copy.kind === 'repository' ? byName.get(copy.name) : undefined;
          const present =
            !site ||
            (await access(join(site.path, folder)).then(
              () => true,
              () => false,
            ));
          copies.push(present ? copy : { ...copy, state: 'missing' });
        }
        const lacking = lackingCopies(policy, primary, copies);
        points.push({
          pointId: point.id,
          sequence: point.sequence,
          createdAt: point.createdAt,
          copies,
          meetsPolicy: lacking.length === 0,
          lacking,
        });
      }
      status.vms.push({ vmId: vm.id, vmName: vm.name, points });
    }
    return status;
  }

  /** The copy a restore of this point reads (see source-picker), unlocked when encrypted. */
  async sourceFor(vm: { id: string; name: string }, pointId: string, choice: SourceChoice): Promise<PickedSource> {
    const { catalog, keys } = this.options;
    const points = catalog.listPoints(vm.id);
    const point = points.find((candidate) => candidate.id === pointId);
    if (!point) throw new LifeboatError('not-found', `VM ${vm.name} has no restore point ${pointId}`);
    const newestIn = (site: RepositorySite): number | null =>
      points.find((candidate) => candidate.copies.some((copy) => copy.kind === 'repository' && copy.name === site.name))?.sequence ?? null;
    return pickSource({
      vmId: vm.id,
      vmName: vm.name,
      pointId,
      sequence: point.sequence,
      sites: catalog.copies.sites(),
      copiedTo: new Set(catalog.copies.copyRows(pointId).map((row) => row.repositoryId)),
      fromRegion: choice.fromRegion,
      onTape: point.copies.filter((copy) => copy.kind === 'tape').map((copy) => copy.name),
      newestIn,
      open: (site) => this.open(site),
      unlock: keys.unlocker(point.keyId, choice, `point ${point.sequence} of ${vm.name}`),
    });
  }
}

/** A copy repository's folder: an existing repository, an empty folder, or a new one (its
 * missing parents made one by one, and taken back if one cannot be). Anything else is refused
 * before anything is written there. */
async function claimFolder(path: string): Promise<void> {
  const found = await stat(path).catch((error: unknown) => {
    if (isErrnoCode(error, 'ENOENT')) return null;
    if (isErrnoCode(error, 'ENOTDIR')) throw new LifeboatError('bad-request', `a parent of ${path} is not a folder`);
    throw new LifeboatError('bad-request', `${path} cannot be read: ${(error as Error).message}`);
  });
  if (found) {
    if (!found.isDirectory()) throw new LifeboatError('bad-request', `${path} is not a folder`);
    const names = await readdir(path);
    if (names.length > 0 && !names.includes('repository.json'))
      throw new LifeboatError(
        'conflict',
        `${path} is not empty and holds no Lifeboat repository; give an empty folder or an existing repository`,
      );
    return;
  }
  await makeFolders(path);
}
