// The vCenter simulator for a test file: started once, stopped after the file's tests, and added
// to an engine as its host "vc".
import { execFile } from 'node:child_process';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { startVcsim as start, type Vcsim } from '../../scripts/peers/vcsim.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from './owner.ts';
import { cli } from './serve-process.ts';

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

/** The same through the CLI, as an operator would beside a running `serve`: the CLI finds the
 * serving engine on the home socket. */
export async function addSimulatorHostWithCli(home: string, vcsim: Pick<Vcsim, 'url' | 'user' | 'password'>): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [
      cli,
      '--home',
      home,
      'hosts',
      'add',
      'vsphere',
      '--url',
      vcsim.url,
      '--user',
      vcsim.user,
      '--password-env',
      'LB_TEST_VC_PASSWORD',
      '--insecure',
      '--name',
      'vc',
    ],
    { env: { ...process.env, LB_TEST_VC_PASSWORD: vcsim.password }, timeout: 120_000 },
  );
}
