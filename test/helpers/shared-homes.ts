// Homes of engines that share one PostgreSQL catalog (serve --shared), as a site sets them up.
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { useCatalog } from '../../electron/home.ts';

/** A home on the catalog at `url` whose repository is `repository` (the shared storage every
 * engine of a site mounts at the same path), or a repository of its own for null. */
export async function sharedHome(dir: string, name: string, url: string, repository: string | null): Promise<string> {
  const home = join(dir, name);
  await useCatalog(home, url);
  if (repository) {
    await mkdir(join(home, 'repositories'), { recursive: true });
    await symlink(repository, join(home, 'repositories', 'default'));
  }
  return home;
}
