// The movers' channels: the catalog's movers with what the hub sees of each (state, tasks,
// throughput), adding one (its join token shown once, with the command line to run on the proxy
// host) and removing one (its certificate revoked, its connection dropped).
import type { MoverSummary, MoverTask } from '../../shared/domain.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { MoverEnrollment, MoverRecord } from './enrollment.ts';

export type MoverLive = {
  transports: ('san' | 'hotadd' | 'nbd')[];
  datastores: Record<string, string>;
  slots: number;
  tasks: MoverTask[];
  bytesPerSecond: number;
  lastError: string | null;
  lastSeenAt: string | null;
  connected: boolean;
};

/** What the hub knows of movers at run time (until it exists: nothing live, no listener). */
export type MoverLiveView = {
  live(moverId: string): MoverLive | null;
  /** host:port of the mover listener, or null when none is open. */
  address(): string | null;
  /** The hub drops the mover's connection and reassigns its tasks. */
  onRemoved(moverId: string): void;
};

export const noMoverHub: MoverLiveView = { live: () => null, address: () => null, onRemoved: () => undefined };

function summaryOf(mover: MoverRecord, live: MoverLive | null): MoverSummary {
  const state: MoverSummary['state'] = mover.removed
    ? 'removed'
    : !mover.joined
      ? 'awaiting-join'
      : live?.connected
        ? 'connected'
        : 'disconnected';
  return {
    id: mover.id,
    name: mover.name,
    host: mover.host,
    proxyVm: mover.proxyVm,
    state,
    transports: live?.transports ?? [],
    datastores: live?.datastores ?? {},
    slots: live?.slots ?? 0,
    tasks: live?.tasks ?? [],
    bytesPerSecond: live?.bytesPerSecond ?? 0,
    lastError: live?.lastError ?? null,
    lastSeenAt: live?.lastSeenAt ?? null,
    certificateExpiresAt: mover.certificateExpiresAt,
    createdAt: mover.createdAt,
  };
}

/** The line an operator runs on the proxy host (placeholders for what only they know). */
export function joinCommand(address: string | null, token: string): string {
  return `lifeboat mover --engine ${address ?? '<engine-address>'} --token ${token} --state <folder> --datastore <name>=<path>`;
}

export function moverHandlers(
  enrollment: MoverEnrollment,
  view: MoverLiveView,
): ChannelHandlers<'movers.list' | 'movers.add' | 'movers.remove'> {
  return {
    'movers.list': async () => enrollment.list().map((mover) => summaryOf(mover, mover.removed ? null : view.live(mover.id))),
    'movers.add': async (request, { actor }) => {
      const { mover, token } = enrollment.add(request, actor);
      return { mover: summaryOf(mover, null), token, command: joinCommand(view.address(), token) };
    },
    'movers.remove': async ({ mover }, { actor }) => {
      const removed = enrollment.remove(mover, actor);
      view.onRemoved(removed.id);
      return { removed: removed.name };
    },
  };
}
