// The vSphere hosts of the catalog (added only once their address and credentials are proven;
// passwords in the secret store) and the restore proxies in front of them, with the pool that
// counts the restore tasks each proxy runs now (across engines, when they share the catalog).
import type { HostInventory, HostSummary, OriginalPreview, ProxySummary } from '../../shared/domain.ts';
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { ChannelHandlers, Parsed } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { previewOriginal } from '../restore/original-vm-vsphere.ts';
import type { ProxyPool } from '../restore/transport-choice.ts';
import type { SecretStore } from '../secrets/secret-store.ts';

export type HostServiceDeps = {
  catalog: Catalog;
  secrets: SecretStore;
  repository: Repository;
  lookup: VmLookup;
  /** The connected data movers of a host, as proxies (movers/mover-hub.ts). */
  moverProxies?: (host: string) => ProxySummary[];
};

export class HostService {
  private readonly deps: HostServiceDeps;
  /** Restore tasks each proxy runs now, by proxy id. */
  private readonly proxyLoad = new Map<string, number>();
  /** The catalog's proxies, with their load: what a vSphere backup reads through. */
  readonly proxies: ProxyPool = this.poolOf((host) => this.deps.catalog.listProxies().filter((proxy) => proxy.host === host));
  /** What a vSphere restore chooses from: the catalog's proxies and the connected data movers
   * (which write, but do not read for backups). */
  readonly restoreProxies: ProxyPool = this.poolOf((host) => [
    ...this.deps.catalog.listProxies().filter((proxy) => proxy.host === host),
    ...(this.deps.moverProxies?.(host) ?? []),
  ]);

  /** A proxy's tasks are counted here, and, when engines share the catalog, held as slots across
   * them (EngineCatalog.takeSlot): its limit holds whichever engines run the tasks. */
  private poolOf(forHost: (host: string) => ProxySummary[]): ProxyPool {
    // Read when called: the pools are made before the constructor sets deps.
    const engines = (): Catalog['engines'] => this.deps.catalog.engines;
    const busyMessage = (proxy: ProxySummary, where: string): string =>
      `is busy (${proxy.maxTasks} of ${proxy.maxTasks} tasks running${where})`;
    return {
      forHost,
      busy: (proxy) => {
        if ((this.proxyLoad.get(proxy.id) ?? 0) >= proxy.maxTasks) return busyMessage(proxy, '');
        const probe = engines().takeSlot(`proxy:${proxy.id}`, proxy.maxTasks);
        probe?.();
        return probe ? null : busyMessage(proxy, ' on the engines sharing the catalog');
      },
      acquire: (proxy) => {
        const slot = engines().takeSlot(`proxy:${proxy.id}`, proxy.maxTasks);
        // Taken by another engine since busy() said no: the job is refused, never run past the limit.
        if (!slot) throw new LifeboatError('conflict', `proxy ${proxy.name} ${busyMessage(proxy, ' on the engines sharing the catalog')}`);
        this.proxyLoad.set(proxy.id, (this.proxyLoad.get(proxy.id) ?? 0) + 1);
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.proxyLoad.set(proxy.id, Math.max(0, (this.proxyLoad.get(proxy.id) ?? 1) - 1));
          try {
            slot();
          } catch {
            // The catalog cannot be reached: the session that held the slot is gone, and its lock with it.
          }
        };
      },
    };
  }

  constructor(deps: HostServiceDeps) {
    this.deps = deps;
  }

  async connect(name: string): Promise<VsphereClient> {
    const host = this.deps.catalog.findHost(name);
    if (!host) throw new LifeboatError('not-found', `no host "${name}" in the catalog`);
    return VsphereClient.connect({ url: new URL(host.url), insecure: host.insecure }, host.user, await this.deps.secrets.get(host.id));
  }

  async add(request: Parsed<'hosts.add'>, actor: string): Promise<HostSummary> {
    const { catalog, secrets } = this.deps;
    const url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new LifeboatError('bad-request', `host URL must be https://…/sdk, not ${url.protocol}`);
    if (url.username || url.password)
      throw new LifeboatError('bad-request', 'put the user in --user and the password in the environment, not in the URL');
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/sdk';
    const name = request.name ?? url.hostname;
    if (catalog.findHost(name)) throw new LifeboatError('conflict', `a host named "${name}" is already in the catalog`);
    // Prove the address and the credentials before anything is stored.
    const client = await VsphereClient.connect({ url, insecure: request.insecure }, request.user, request.password);
    await client.logout();
    const host: HostSummary = {
      id: randomUUID(),
      name,
      kind: 'vsphere',
      url: url.href,
      user: request.user,
      insecure: request.insecure,
      createdAt: new Date().toISOString(),
    };
    await secrets.put(host.id, request.password);
    catalog.addHost(host);
    catalog.audit(actor, 'hosts.add', host.id, {
      name,
      url: host.url,
      user: host.user,
      insecure: host.insecure,
      secretStore: secrets.kind,
    });
    return host;
  }

  async remove(host: string, actor: string): Promise<{ removed: string }> {
    const found = this.deps.catalog.findHost(host);
    if (!found) throw new LifeboatError('not-found', `no host "${host}" in the catalog`);
    const movers = this.deps.catalog.movers.liveNamesOfHost(found.id);
    if (movers.length > 0)
      throw new LifeboatError('conflict', `movers ${movers.join(', ')} serve host "${host}"; \`lifeboat movers remove\` them first`);
    this.deps.catalog.removeHost(found.id);
    await this.deps.secrets.remove(found.id);
    this.deps.catalog.audit(actor, 'hosts.remove', found.id, { name: host });
    return { removed: host };
  }

  async inventory(name: string): Promise<HostInventory> {
    const client = await this.connect(name);
    try {
      const inventory = await client.inventory();
      const nameOf = (refs: MoRef[], list: { ref: MoRef; name: string }[]): string[] =>
        refs.flatMap((ref) => list.filter((item) => item.ref.value === ref.value).map((item) => item.name));
      return {
        hostSystems: inventory.hosts.map((host) => ({
          name: host.name,
          connected: host.connected,
          datastores: nameOf(host.datastores, inventory.datastores),
          networks: nameOf(host.networks, inventory.networks),
        })),
        datastores: inventory.datastores.map((ds) => ({ name: ds.name, type: ds.type, capacity: ds.capacity, freeSpace: ds.freeSpace })),
        vms: inventory.vms.map((vm) => vm.name),
      };
    } finally {
      await client.logout();
    }
  }

  addProxy(request: Parsed<'proxies.add'>, actor: string): ProxySummary {
    const { catalog } = this.deps;
    const host = catalog.findHost(request.host);
    if (!host) throw new LifeboatError('not-found', `no host "${request.host}" in the catalog`);
    if (catalog.listProxies().some((proxy) => proxy.name === request.name))
      throw new LifeboatError('conflict', `a proxy named "${request.name}" already exists`);
    if (catalog.movers.findLive(request.name)) throw new LifeboatError('conflict', `a mover named "${request.name}" already exists`);
    if (request.transports.includes('hotadd') && !request.proxyVm)
      throw new LifeboatError('bad-request', 'a HotAdd proxy needs its proxy VM (--vm)');
    if ((request.transports.includes('san') || request.transports.includes('hotadd')) && Object.keys(request.datastorePaths).length === 0) {
      throw new LifeboatError('bad-request', 'a SAN or HotAdd proxy needs at least one datastore path (--datastore-path NAME=PATH)');
    }
    const proxy: ProxySummary = { ...request, id: randomUUID(), createdAt: new Date().toISOString() };
    catalog.addProxy(proxy, host.id);
    catalog.audit(actor, 'proxies.add', proxy.id, proxy);
    return proxy;
  }

  removeProxy(proxy: string, actor: string): { removed: string } {
    const found = this.deps.catalog.listProxies().find((candidate) => candidate.name === proxy);
    if (!found) throw new LifeboatError('not-found', `no proxy "${proxy}"`);
    this.deps.catalog.removeProxy(found.id);
    this.deps.catalog.audit(actor, 'proxies.remove', found.id, { name: proxy });
    return { removed: proxy };
  }

  /** What an original-location restore of a point would replace on the host, before it runs. */
  async previewOriginal(vmArgument: string, point: string, hostName: string): Promise<OriginalPreview> {
    const { lookup } = this.deps;
    const found = lookup.resolveVm(vmArgument);
    const resolved = await resolvePoint(this.deps.repository, found.id, lookup.resolvePointId(found.id, point));
    const client = await this.connect(hostName);
    try {
      return (await previewOriginal(client, await client.inventory(), resolved)).preview;
    } finally {
      await client.logout();
    }
  }
}

export function hostHandlers(
  hosts: HostService,
  catalog: Catalog,
): ChannelHandlers<
  | 'hosts.list'
  | 'hosts.add'
  | 'hosts.remove'
  | 'hosts.inventory'
  | 'proxies.list'
  | 'proxies.add'
  | 'proxies.remove'
  | 'restore.previewOriginal'
> {
  return {
    'hosts.list': async () => catalog.listHosts(),
    'hosts.add': async (request, { actor }) => hosts.add(request, actor),
    'hosts.remove': async ({ host }, { actor }) => hosts.remove(host, actor),
    'hosts.inventory': async ({ host }) => hosts.inventory(host),
    'proxies.list': async () => catalog.listProxies(),
    'proxies.add': async (request, { actor }) => hosts.addProxy(request, actor),
    'proxies.remove': async ({ proxy }, { actor }) => hosts.removeProxy(proxy, actor),
    'restore.previewOriginal': async ({ vm, point, host }) => hosts.previewOriginal(vm, point, host),
  };
}
