// Which jobs `jobs resume` can pick up where they stopped: restores of an entire VM to a local
// folder, whose staging folder and per-disk checkpoints survive an engine that stops or dies.
import type { Catalog } from '../catalog/catalog.ts';

export function isResumableJob(catalog: Catalog, jobId: string): boolean {
  const job = catalog.getJob(jobId);
  if (job?.kind !== 'restore-entire-vm') return false;
  const params = catalog.jobParams(jobId) as { target?: { kind?: unknown } } | null;
  return params?.target?.kind === 'local';
}
