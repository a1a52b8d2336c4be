// The vCenter simulator for a test file: started once, stopped after the file's tests, and added
// to an engine as its host "vc".
import { after } from 'node:test';
import { startVcsim as start, type Vcsim } from '../../scripts/peers/vcsim.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from './owner.ts';

export { vcsimUnavailable, type Vcsim } from '../../scripts/peers/vcsim.ts';

export async function startVcsim(options: { cwd?: string } = {}): Promise<Vcsim> {
  const vcsim = await start(options);
  after(() => vcsim.stop());
  return vcsim;
}

/** Adds the simulator to the engine's catalog as host "vc", as an owner would. */
export async function addSimulatorHost(engine: Engine, vcsim: Pick<Vcsim, 'url' | 'user' | 'password'>): Promise<void> {
  await dispatch(engine, asOwner(), 'hosts.add', {
    kind: 'vsphere',
    name: 'vc',
    url: vcsim.url,
    user: vcsim.user,
    password: vcsim.password,
    insecure: true,
  });
}
