// The encryption-key channels: list the keys, print a recovery key, remember or forget a key in
// the secret store, change a key's password. Each change is audited.
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { KeyService } from './key-service.ts';

export function keyHandlers(
  keys: KeyService,
  catalog: Catalog,
  secretStoreKind: () => string,
): ChannelHandlers<'keys.list' | 'keys.recovery' | 'keys.remember' | 'keys.forget' | 'keys.setPassword'> {
  return {
    'keys.list': async () => keys.list(),
    'keys.recovery': async ({ keyId, password }, { actor }) => {
      const text = await keys.recoveryText(keyId, password);
      catalog.audit(actor, 'keys.recovery', keyId, {});
      return { text };
    },
    'keys.remember': async ({ keyId, ...credentials }, { actor }) => {
      const key = await keys.rememberKey(keyId, credentials);
      catalog.audit(actor, 'keys.remember', keyId, { secretStore: secretStoreKind() });
      return key;
    },
    'keys.forget': async ({ keyId }, { actor }) => {
      const key = await keys.forget(keyId);
      catalog.audit(actor, 'keys.forget', keyId, {});
      return key;
    },
    'keys.setPassword': async ({ keyId, newPassword, ...credentials }, { actor }) => {
      const key = await keys.setPassword(keyId, credentials, newPassword);
      catalog.audit(actor, 'keys.setPassword', keyId, { provedBy: credentials.recoveryKey !== undefined ? 'recovery key' : 'password' });
      return key;
    },
  };
}
