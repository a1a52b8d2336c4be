// The checks every restore's target passes before any job exists: a place on this machine is
// checked and made absolute (fs/target-check.ts), an item restore never writes into the home or a
// repository, and a vSphere target names a known host (an original-location restore confirmed,
// and held for a second operator under the four-eyes rule).
import { resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { checkTargetPath, realTargetPath } from '../fs/target-check.ts';

export type TargetChecksDeps = { home: string; catalog: Catalog };

/** What the rules look at in any restore's or rehearsal's target. */
export type CheckedTarget =
  { kind: 'local' } | { kind: 'vsphere'; host: string; original?: boolean | undefined; confirmOverwrite?: boolean | undefined };

export class TargetChecks {
  private readonly deps: TargetChecksDeps;

  constructor(deps: TargetChecksDeps) {
    this.deps = deps;
  }

  /** A place on this machine the operator named (a target folder, a staging or cache folder, a
   * repository), checked before any job exists and made absolute: see fs/target-check.ts. */
  async checkLocalPath(path: string, what: string, repositories = this.repositoryPaths()): Promise<string> {
    return checkTargetPath(path, what, { home: this.deps.home, repositories });
  }

  private repositoryPaths(): { name: string; path: string }[] {
    return this.deps.catalog.copies.sites().map((site) => ({ name: site.name, path: site.path }));
  }

  /** What an item restore never writes into, even below its target: the home, every repository. */
  async protectedPaths(): Promise<string[]> {
    return Promise.all(
      [this.deps.home, ...this.repositoryPaths().map((site) => site.path)].map((path) =>
        realTargetPath(resolve(path)).then((found) => found.real),
      ),
    );
  }

  /** The request with its local target checked and made absolute; other targets pass as they are. */
  async checkedLocalTarget<R extends { target: { kind: string } }>(request: R): Promise<R> {
    const { target } = request;
    if (target.kind !== 'local' || !('path' in target) || typeof target.path !== 'string') return request;
    return { ...request, target: { ...target, path: await this.checkLocalPath(target.path, 'the restore target') } };
  }

  /** What every restore to a target must pass, whatever the source: the host is known, an
   * original-location restore is confirmed; under the four-eyes rule the latter is held until a
   * second operator approves it. */
  checkTarget(target: CheckedTarget, vmName: string): { holdFor?: string } {
    if (target.kind !== 'vsphere') return {};
    if (!this.deps.catalog.findHost(target.host))
      throw new LifeboatError('not-found', `no host "${target.host}" in the catalog; \`lifeboat hosts add vsphere …\` adds one`);
    if (!('original' in target) || !target.original) return {};
    if (!target.confirmOverwrite)
      throw new LifeboatError(
        'bad-request',
        `an original-location restore replaces the disks of ${vmName}: look at what it replaces (preview) and confirm it (--yes)`,
      );
    return this.deps.catalog.settings().fourEyes ? { holdFor: 'approval' } : {};
  }
}
