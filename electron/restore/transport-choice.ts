// Which transport a vSphere restore uses, and through which proxy: Direct SAN when every disk is
// thick and a proxy sees the datastore's LUN, else HotAdd through a proxy VM that can reach the
// datastore, else network (NBD). Every mode that is passed over gets its reason in the job log;
// a mode the operator asks for by name is used or refused with the reason, never swapped.
import type { ProxySummary, TransportMode } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';

export type Transport = 'san' | 'hotadd' | 'nbd';
export type TransportDecision = { mode: Transport; proxy: ProxySummary | null; reasons: string[] };

export type TransportInput = {
  requested: TransportMode;
  thick: boolean;
  datastore: string;
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
    const blocker =
      (proxy.datastorePaths[input.datastore] ? null : `cannot see datastore ${input.datastore}`) ??
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
  throw new LifeboatError('bad-request', `transport ${titles[input.requested as Transport] ?? input.requested} cannot be used: ${reasons.join('; ')}`);
}

export function transportTitle(mode: Transport): string {
  return titles[mode];
}
