// Which transport a vSphere restore uses, and through which proxy: Direct SAN when every disk is
// thick and a proxy sees the datastore's LUN, else HotAdd through a proxy VM that can reach the
// datastore, else network (NBD). Every mode that is passed over gets its reason in the job log;
// a mode the operator asks for by name is used or refused with the reason, never swapped.
import type { ProxySummary, TransportMode } from '../../shared/domain.ts';
import type { DatastoreInfo, Inventory } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';

export type Transport = 'san' | 'hotadd' | 'nbd';
export type TransportDecision = { mode: Transport; proxy: ProxySummary | null; reasons: string[] };

export type TransportInput = {
  requested: TransportMode;
  thick: boolean;
  datastore: string;
  /** Other datastores the disks go to: a proxy must see them too (else it fails mid-job, after CreateVM). */
  alsoDatastores?: string[];
  proxies: ProxySummary[];
  /** Why this proxy cannot take another task now, or null. */
  busy(proxy: ProxySummary): string | null;
  /** Why this proxy's VM cannot hot-add a disk on that datastore, or null. */
  hotAddBlocker(proxy: ProxySummary): string | null;
};

const titles: Record<Transport, string> = { san: 'Direct SAN', hotadd: 'HotAdd', nbd: 'network (NBD)' };

function tryMode(mode: Transport, input: TransportInput): { proxy: ProxySummary | null } | { reason: string } {
  if (mode === 'nbd') return { proxy: null };
  if (mode === 'san' && !input.thick) return { reason: 'Direct SAN writes only thick disks and this restore makes thin ones' };
  const capable = input.proxies.filter((proxy) => proxy.transports.includes(mode));
  if (capable.length === 0) return { reason: `no proxy offers ${titles[mode]}` };
  const reasons: string[] = [];
  for (const proxy of capable) {
    const unseen = [input.datastore, ...(input.alsoDatastores ?? [])].find((name) => !proxy.datastorePaths[name]);
    const blocker =
      (unseen === undefined ? null : `cannot see datastore ${unseen}`) ??
      input.busy(proxy) ??
      (mode === 'hotadd' ? input.hotAddBlocker(proxy) : null);
    if (!blocker) return { proxy };
    reasons.push(`proxy ${proxy.name} ${blocker}`);
  }
  return { reason: reasons.join('; ') };
}

export function chooseTransport(input: TransportInput): TransportDecision {
  const order: Transport[] = input.requested === 'auto' ? ['san', 'hotadd', 'nbd'] : [input.requested];
  const reasons: string[] = [];
  for (const mode of order) {
    const outcome = tryMode(mode, input);
    if ('proxy' in outcome) return { mode, proxy: outcome.proxy, reasons };
    reasons.push(`${titles[mode]}: ${outcome.reason}`);
  }
  throw new LifeboatError(
    'bad-request',
    `transport ${titles[input.requested as Transport] ?? input.requested} cannot be used: ${reasons.join('; ')}`,
  );
}

export function transportTitle(mode: Transport): string {
  return titles[mode];
}

/** The engine's proxies as a restore sees them: those of a host, how busy, and a slot to hold. */
export type ProxyPool = {
  forHost(host: string): ProxySummary[];
  busy(proxy: ProxySummary): string | null;
  acquire(proxy: ProxySummary): () => void;
};

export type SelectedTransport = { decision: TransportDecision; release: (() => void) | null; proxyVm: MoRef | null };

/** Chooses the transport for a restore onto `datastore`, logs what was passed over and why, and
 * holds a slot on the chosen proxy (release it when the restore ends). */
export function selectTransport(options: {
  inventory: Inventory;
  datastore: DatastoreInfo;
  /** Other datastores the disks are placed on. */
  alsoDatastores?: DatastoreInfo[];
  requested: TransportMode;
  thick: boolean;
  host: string;
  proxies: ProxyPool;
  context: StepContext;
}): SelectedTransport {
  const { inventory, datastore, proxies } = options;
  const others = (options.alsoDatastores ?? []).filter((other) => other.name !== datastore.name);
  const decision = chooseTransport({
    requested: options.requested,
    thick: options.thick,
    datastore: datastore.name,
    alsoDatastores: [...new Set(others.map((other) => other.name))],
    proxies: proxies.forHost(options.host),
    busy: (proxy) => proxies.busy(proxy),
    hotAddBlocker: (proxy) => {
      const vm = inventory.vms.find((candidate) => candidate.name === proxy.proxyVm);
      if (!vm) return proxy.proxyVm ? `has no VM "${proxy.proxyVm}" in the inventory` : 'has no proxy VM';
      const host = inventory.hosts.find((candidate) => candidate.ref.value === vm.host?.value);
      const unreached = [datastore, ...others].find((wanted) => !host?.datastores.some((ref) => ref.value === wanted.ref.value));
      return unreached ? `VM ${proxy.proxyVm} runs on a host that cannot reach ${unreached.name}` : null;
    },
  });
  for (const reason of decision.reasons) options.context.log(`transport passed over — ${reason}`);
  const { mode, proxy } = decision;
  return {
    decision,
    release: proxy ? proxies.acquire(proxy) : null,
    proxyVm: proxy && mode === 'hotadd' ? (inventory.vms.find((candidate) => candidate.name === proxy.proxyVm)?.ref ?? null) : null,
  };
}
