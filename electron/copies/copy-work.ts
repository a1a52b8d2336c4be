// A copy job: brings the copy repositories up to the copy policy. Points are copied oldest first
// (an incremental needs its parents there), each into a partial folder of the target, every file
// hashed on the way and read back after its sync; only when the hashes agree is the point
// published there and recorded. A point whose copy fails is not published; the job stops.
import { access, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CopyPolicy, RepositorySite } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { JobWork } from '../engine/job-work.ts';
import { throwIfCancelled, type StepContext } from '../engine/plan.ts';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import type { Manifest } from '../repository/manifest.ts';
import type { Repository } from '../repository/repository.ts';
import type { CopyFileResult } from '../workers/messages.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { lackingCopies, policyTargets } from './copy-policy.ts';

export const copySteps = [
  { name: 'plan-copies', title: 'Plan: the copies the policy asks for that are missing' },
  { name: 'copy-points', title: 'Copy each point, read it back, compare hashes, publish it' },
  { name: 'check-policy', title: 'Check every point against the policy' },
] as const;

export type CopyWorkOptions = {
  primary: Repository;
  catalog: Catalog;
  pool: WorkerPool;
  policy: CopyPolicy;
  /** null: every VM. */
  vmIds: string[] | null;
  openSite: (site: RepositorySite) => Promise<Repository>;
};

type PlannedCopy = { manifest: Manifest; site: RepositorySite; target: Repository };

const PROGRESS_POLL_MS = 250;

function pointBytes(manifest: Manifest): number {
  return manifest.dataFile.size;
}

export class CopyWork implements JobWork {
  readonly steps = copySteps;
  private readonly options: CopyWorkOptions;
  private planned: PlannedCopy[] = [];
  private copied = 0;
  private bytes = 0;
  private meeting = 0;
  private points = 0;

  constructor(options: CopyWorkOptions) {
    this.options = options;
  }

  async run(step: string, context: StepContext): Promise<void> {
    if (step === 'plan-copies') return this.plan(context);
    if (step === 'copy-points') return this.copyAll(context);
    if (step === 'check-policy') return this.checkPolicy(context);
    throw new LifeboatError('internal', `copy job has no step ${step}`);
  }

  private vmIds(): string[] {
    return this.options.vmIds ?? this.options.catalog.listVms().map((vm) => vm.id);
  }

  private async plan(context: StepContext): Promise<void> {
    const { catalog, policy, primary } = this.options;
    if (policy === 'none') throw new LifeboatError('conflict', 'the copy policy is none: set one first (`lifeboat copies policy lrs|zrs|grs`)');
    const { targets, problem } = policyTargets(policy, catalog.copies.sites());
    if (problem) throw new LifeboatError('conflict', problem);
    for (const site of targets) {
      const target = await this.options.openSite(site);
      for (const vmId of this.vmIds()) {
        for (const manifest of await primary.listPoints(vmId)) {
          const recorded = catalog.copies.copyRows(manifest.id).some((row) => row.repositoryId === site.id);
          if (recorded && (await exists(join(target.pointFolder(manifest), 'manifest.json')))) continue;
          this.planned.push({ manifest, site, target });
        }
      }
    }
    const total = this.planned.reduce((sum, copy) => sum + pointBytes(copy.manifest), 0);
    context.progress(0, total);
    context.log(`${policy.toUpperCase()} to ${targets.map((site) => `${site.name} (${site.region}/${site.zone})`).join(', ')}: ${this.planned.length} point cop${this.planned.length === 1 ? 'y' : 'ies'} to make, ${total} bytes`);
  }

  private async copyAll(context: StepContext): Promise<void> {
    const total = this.planned.reduce((sum, copy) => sum + pointBytes(copy.manifest), 0);
    for (const copy of this.planned) {
      throwIfCancelled(context.signal);
      await this.copyPoint(copy, context, total);
      this.copied++;
    }
  }

  private async copyPoint({ manifest, site, target }: PlannedCopy, context: StepContext, total: number): Promise<void> {
    const { primary, catalog, pool } = this.options;
    const label = `${manifest.vmName} point ${manifest.sequence} to ${site.name}`;
    const partial = target.partialFolder(manifest.vmId, manifest.id);
    context.resources.record('partial-point', { path: partial });
    await rm(partial, { recursive: true, force: true });
    // A folder the catalog does not vouch for (an earlier copy it never recorded) is made anew.
    await rm(target.pointFolder(manifest), { recursive: true, force: true });
    await target.ensureVm(manifest.vmId, manifest.vmName);
    await mkdir(partial, { recursive: true });
    if (manifest.encryption) await this.copyKeyFile(manifest.encryption.keyId, target);
    const source = primary.pointFolder(manifest);
    const control = new Int32Array(new SharedArrayBuffer(4));
    const progress = new Float64Array(new SharedArrayBuffer(8));
    const base = this.bytes;
    const onAbort = (): void => {
      Atomics.store(control, 0, 1);
    };
    context.signal.addEventListener('abort', onAbort);
    // The maps are copied too: progress counts them but never passes the point's share.
    const timer = setInterval(() => context.progress(base + Math.min(progress[0] as number, pointBytes(manifest)), total), PROGRESS_POLL_MS);
    let dataSha256 = '';
    try {
      for (const name of [manifest.dataFile.name, ...manifest.disks.map((disk) => disk.mapFile)]) {
        const result = await pool.run<CopyFileResult>({ type: 'copy-file', source: join(source, name), target: join(partial, name), control, progress });
        const expected = manifest.disks.find((disk) => disk.mapFile === name)?.mapSha256 ?? result.sourceSha256;
        if (result.sourceSha256 !== expected) throw new LifeboatError('corrupt-backup', `${label}: ${name} in the primary does not match its manifest's hash; verify the chain`);
        if (result.targetSha256 !== result.sourceSha256) throw new LifeboatError('corrupt-backup', `${label}: ${name} reads back from ${site.name} with another SHA-256 than was written; the copy is not published`);
        if (name === manifest.dataFile.name) {
          if (result.bytes !== manifest.dataFile.size) throw new LifeboatError('corrupt-backup', `${label}: the data file is ${result.bytes} bytes, its manifest says ${manifest.dataFile.size}`);
          dataSha256 = result.sourceSha256;
        }
      }
    } catch (error) {
      await rm(partial, { recursive: true, force: true });
      throw error;
    } finally {
      clearInterval(timer);
      context.signal.removeEventListener('abort', onAbort);
    }
    await target.commitPoint(partial, manifest);
    catalog.copies.recordCopy(manifest.id, site.id, dataSha256, manifest.dataFile.size);
    this.bytes += pointBytes(manifest);
    context.progress(this.bytes, total);
    context.log(`${label} (${site.region}/${site.zone}): ${manifest.dataFile.size} bytes, SHA-256 ${dataSha256.slice(0, 16)}… read back equal`);
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
