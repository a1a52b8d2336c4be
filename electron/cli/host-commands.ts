// `lifeboat hosts …`, `proxies …` and `azure …`: where restores go (hypervisor hosts, backup
// proxies for Direct SAN and HotAdd, Azure Storage accounts).
import type { LifeboatApi } from '../../shared/contract.ts';
import { formatBytes, table } from '../../shared/format.ts';
import { positiveInt, UsageError, type Output, keyValuePairs } from './cli-output.ts';
import type { CliValues } from './options.ts';

export async function hostsCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  const [action, argument] = rest;
  if (action === undefined) {
    const hosts = await api.invoke('hosts.list', {});
    out.print(
      hosts.length === 0
        ? 'no hosts yet: `lifeboat hosts add vsphere --url https://vcenter/sdk --user U --password-env VAR`'
        : table([
            ['NAME', 'KIND', 'URL', 'USER', 'TLS'],
            ...hosts.map((host) => [host.name, host.kind, host.url, host.user, host.insecure ? 'not verified' : 'verified']),
          ]),
      hosts,
    );
    return 0;
  }
  if (action === 'add') {
    if (argument !== 'vsphere') throw new UsageError('hosts add takes: vsphere --url URL --user U --password-env VAR');
    if (!values.url || !values.user || !values['password-env'])
      throw new UsageError('hosts add vsphere needs --url, --user and --password-env');
    const password = process.env[values['password-env']];
    if (!password) throw new UsageError(`environment variable ${values['password-env']} is empty or not set`);
    const host = await api.invoke('hosts.add', {
      kind: 'vsphere',
      url: values.url,
      user: values.user,
      password,
      insecure: values.insecure ?? false,
      ...(values.name ? { name: values.name } : {}),
    });
    out.print(`host ${host.name} added (${host.url}); its password is in the secret store`, host);
    return 0;
  }
  if (!argument) throw new UsageError(`hosts ${action} takes a host name`);
  if (action === 'remove') {
    out.print(`host ${argument} removed`, await api.invoke('hosts.remove', { host: argument }));
    return 0;
  }
  if (action === 'inventory') {
    const inventory = await api.invoke('hosts.inventory', { host: argument });
    out.print(
      table([
        ['ESXI HOST', 'CONNECTED', 'DATASTORES', 'NETWORKS'],
        ...inventory.hostSystems.map((host) => [
          host.name,
          host.connected ? 'yes' : 'no',
          host.datastores.join(','),
          host.networks.join(','),
        ]),
      ]) +
        '\n\n' +
        table([
          ['DATASTORE', 'TYPE', 'FREE', 'CAPACITY'],
          ...inventory.datastores.map((ds) => [ds.name, ds.type, formatBytes(ds.freeSpace), formatBytes(ds.capacity)]),
        ]),
      inventory,
    );
    return 0;
  }
  throw new UsageError('hosts takes: add | remove <name> | inventory <name>');
}

export async function proxiesCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  const [action, name] = rest;
  if (action === undefined) {
    const proxies = await api.invoke('proxies.list', {});
    out.print(
      proxies.length === 0
        ? 'no proxies: restores to vSphere use the network (NBD) transport'
        : table([
            ['NAME', 'HOST', 'TRANSPORTS', 'PROXY VM', 'DATASTORES', 'MAX TASKS'],
            ...proxies.map((proxy) => [
              proxy.name,
              proxy.host,
              proxy.transports.join(','),
              proxy.proxyVm ?? '-',
              Object.keys(proxy.datastorePaths).join(','),
              String(proxy.maxTasks),
            ]),
          ]),
      proxies,
    );
    return 0;
  }
  if (!name) throw new UsageError(`proxies ${action} takes a proxy name`);
  if (action === 'remove') {
    out.print(`proxy ${name} removed`, await api.invoke('proxies.remove', { proxy: name }));
    return 0;
  }
  if (action !== 'add') throw new UsageError('proxies takes: add <name> … | remove <name>');
  if (!values.host || !values.transports) throw new UsageError('proxies add needs --host and --transports');
  const datastorePaths = keyValuePairs(values['datastore-path'], '--datastore-path', 'DATASTORE=PATH');
  const proxy = await api.invoke('proxies.add', {
    name,
    host: values.host,
    transports: values.transports.split(',').map((mode) => mode.trim()) as ('san' | 'hotadd' | 'nbd')[],
    proxyVm: values.vm ?? null,
    datastorePaths,
    maxTasks: positiveInt(values['max-tasks'], 2, '--max-tasks'),
  });
  out.print(`proxy ${proxy.name} added for ${proxy.host} (${proxy.transports.join(', ')})`, proxy);
  return 0;
}

export async function azureCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (rest[0] === 'add') {
    const variable = values['key-env'];
    if (!values['blob-url'] || !values.account || !variable)
      throw new UsageError('azure add takes: --blob-url URL --account NAME --key-env VAR [--name N]');
    const key = process.env[variable];
    if (!key) throw new UsageError(`environment variable ${variable} is empty; put the account key there`);
    const account = await api.invoke('azure.add', {
      blobUrl: values['blob-url'],
      accountName: values.account,
      key,
      ...(values.name ? { name: values.name } : {}),
    });
    out.print(
      `Azure account ${account.name} (${account.accountName} at ${account.blobUrl}) added; its key is in the secret store`,
      account,
    );
    return 0;
  }
  if (rest[0] === 'remove') {
    if (!rest[1]) throw new UsageError('azure remove takes a name');
    out.print(`removed ${(await api.invoke('azure.remove', { name: rest[1] })).removed}`, { removed: rest[1] });
    return 0;
  }
  const accounts = await api.invoke('azure.list', {});
  out.print(
    accounts.length === 0
      ? 'no Azure accounts'
      : table([['NAME', 'ACCOUNT', 'BLOB ENDPOINT'], ...accounts.map((account) => [account.name, account.accountName, account.blobUrl])]),
    accounts,
  );
  return 0;
}
