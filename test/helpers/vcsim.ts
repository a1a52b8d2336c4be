// The vCenter simulator for a test file: started once, stopped after the file's tests.
import { after } from 'node:test';
import { startVcsim as start, type Vcsim } from '../../scripts/peers/vcsim.ts';

export { vcsimUnavailable, type Vcsim } from '../../scripts/peers/vcsim.ts';

export async function startVcsim(options: { cwd?: string } = {}): Promise<Vcsim> {
  const vcsim = await start(options);
  after(() => vcsim.stop());
  return vcsim;
}
