// The registry the engine's service areas register their handlers into: a channel registered
// twice is refused, and a registry missing a wanted channel has no complete set of handlers
// (refused by the type checker, and at run time should a cast slip one through).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HandlerRegistry, type ChannelHandlers } from '../../electron/handlers/handler-registry.ts';

const vms: ChannelHandlers<'vms.list'> = { 'vms.list': async () => [] };
const settings: ChannelHandlers<'settings.get'> = { 'settings.get': async () => ({ fourEyes: false, copyPolicy: 'none' }) };

test('a registry holding every wanted channel completes with their handlers', () => {
  const handlers = HandlerRegistry.for(['vms.list', 'settings.get'] as const)
    .add(vms)
    .add(settings)
    .complete();
  assert.deepEqual(Object.keys(handlers).sort(), ['settings.get', 'vms.list']);
  assert.equal(handlers['vms.list'], vms['vms.list']);
});

test('a channel registered twice is refused', () => {
  const registry = HandlerRegistry.for(['vms.list', 'settings.get'] as const).add(vms);
  // @ts-expect-error: the type already holds vms.list
  assert.throws(() => registry.add(vms), /handlers registered twice for vms\.list/);
});

test('a registry without every wanted channel does not complete', () => {
  const registry = HandlerRegistry.for(['vms.list', 'settings.get'] as const).add(vms);
  // @ts-expect-error: settings.get has no handler yet
  assert.throws(() => registry.complete(), /no handler for settings\.get/);
});
