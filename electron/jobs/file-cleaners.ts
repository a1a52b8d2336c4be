// The janitor's cleaners of what jobs leave in the file system: staging folders and partial
// points are removed, a file a restore published is taken back unless the restore succeeded,
// and a target folder is removed only when empty.
import { rm, rmdir } from 'node:fs/promises';
import type { Job } from '../../shared/domain.ts';
import { refField, type Janitor } from './janitor.ts';

export function registerFileCleaners(janitor: Janitor, jobs: { getJob(jobId: string): Job | null }): void {
  const removeTree = async (path: string): Promise<string> => {
    await rm(path, { recursive: true, force: true });
    return `removed ${path}`;
  };
  janitor.register('staging-folder', (resource) => removeTree(refField(resource, 'path')));
  janitor.register('partial-point', (resource) => removeTree(refField(resource, 'path')));
  janitor.register('published-file', async (resource) => {
    const path = refField(resource, 'path');
    // A file a restore had moved into its target before it stopped: undone with the restore,
    // unless the restore succeeded (its cleanup failed after, and left its records open).
    if (jobs.getJob(resource.jobId)?.state === 'succeeded') return `kept ${path}: its restore succeeded`;
    await rm(path, { force: true });
    return `removed ${path}`;
  });
  janitor.register('target-folder', async (resource) => {
    const path = refField(resource, 'path');
    // Only an empty folder is ours to remove; anything in it was published or is not ours.
    await rmdir(path).catch(() => undefined);
    return `tidied target folder ${path}`;
  });
}
