// The Azure Storage accounts Azure restores write to: added only once their name and key are
// accepted, the key kept in the secret store.
import type { AzureAccount } from '../../shared/domain.ts';
import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import { BlobStore } from '../drivers/azure/blob-store.ts';
import type { ChannelHandlers, Parsed } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import type { SecretStore } from '../secrets/secret-store.ts';

export type AzureAccountsDeps = { catalog: Catalog; secrets: SecretStore };

export class AzureAccounts {
  private readonly deps: AzureAccountsDeps;

  constructor(deps: AzureAccountsDeps) {
    this.deps = deps;
  }

  async add(request: Parsed<'azure.add'>, actor: string): Promise<AzureAccount> {
    const { catalog, secrets } = this.deps;
    const name = request.name ?? request.accountName;
    if (catalog.azure.find(name)) throw new LifeboatError('conflict', `an Azure account named "${name}" is already in the catalog`);
    await BlobStore.connect({ blobUrl: request.blobUrl, accountName: request.accountName }, request.key);
    const account: AzureAccount = {
      id: randomUUID(),
      name,
      blobUrl: request.blobUrl,
      accountName: request.accountName,
      createdAt: new Date().toISOString(),
    };
    await secrets.put(account.id, request.key);
    catalog.azure.add(account);
    catalog.audit(actor, 'azure.add', account.id, {
      name,
      blobUrl: account.blobUrl,
      accountName: account.accountName,
      secretStore: secrets.kind,
    });
    return account;
  }

  async remove(name: string, actor: string): Promise<{ removed: string }> {
    const { catalog, secrets } = this.deps;
    const found = catalog.azure.find(name);
    if (!found) throw new LifeboatError('not-found', `no Azure account "${name}"`);
    catalog.azure.remove(found.id);
    await secrets.remove(found.id);
    catalog.audit(actor, 'azure.remove', found.id, { name });
    return { removed: name };
  }

  /** The account a restore names, or why there is none. */
  named(name: string): AzureAccount {
    const account = this.deps.catalog.azure.find(name);
    if (!account) throw new LifeboatError('not-found', `no Azure account "${name}"; \`lifeboat azure add …\` adds one`);
    return account;
  }

  /** The account's blob store, its key read from the secret store when the restore connects. */
  async connect(account: AzureAccount): Promise<BlobStore> {
    return BlobStore.connect(account, await this.deps.secrets.get(account.id));
  }
}

export function azureHandlers(accounts: AzureAccounts, catalog: Catalog): ChannelHandlers<'azure.add' | 'azure.list' | 'azure.remove'> {
  return {
    'azure.add': async (request, { actor }) => accounts.add(request, actor),
    'azure.list': async () => catalog.azure.list(),
    'azure.remove': async ({ name }, { actor }) => accounts.remove(name, actor),
  };
}
