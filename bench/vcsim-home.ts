// An engine home for the vSphere bench parts: it knows govmomi's simulator as host "vc", with a
// Direct SAN proxy and a HotAdd proxy whose datastore path is the simulator's LocalDS_0 folder.
import type { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import type { Vcsim } from '../scripts/peers/vcsim.ts';

export async function homeWithSimulator(home: string, vc: Vcsim): Promise<Engine> {
  const engine = await openServedEngine({ home });
  await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
  const lun = { LocalDS_0: vc.datastores.LocalDS_0 as string };
  engine.hosts.addProxy({ name: 'san', host: 'vc', transports: ['san'], proxyVm: null, datastorePaths: lun, maxTasks: 2 }, 'bench');
  engine.hosts.addProxy(
    { name: 'hot', host: 'vc', transports: ['hotadd'], proxyVm: 'DC0_H0_VM0', datastorePaths: lun, maxTasks: 2 },
    'bench',
  );
  return engine;
}
