// The way to open a home's engine: the rpc layer claims the home's local socket (its lock, and
// the CLI's way in) before the engine opens its catalog, and serves the engine there once it is
// open. The engine itself opens no socket.
import { Engine, type EngineOptions } from '../engine/engine.ts';
import { listenLocalSocket } from './local-socket.ts';

/** Opens the engine of `options.home`, served on the home's socket until it closes; a home that
 * another engine serves fails with 'conflict'. */
export async function openServedEngine(options: EngineOptions): Promise<Engine> {
  // Read per connection: a CLI that connects while the engine is still opening hears 'unavailable'.
  let served: Engine | null = null;
  const engine = await Engine.open(options, (paths) => listenLocalSocket(() => served, paths.socket));
  served = engine;
  return engine;
}
