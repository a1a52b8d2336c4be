// The one place a request from any transport enters the engine: unknown channels and payloads
// that do not match the contract are refused with a clear error before any handler runs.
import { isRequestChannel, requestChannels, type RequestChannel, type ResponseOf } from '../../shared/contract.ts';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';

export async function dispatch(engine: Engine, channel: unknown, payload: unknown): Promise<unknown> {
  if (!isRequestChannel(channel)) throw new LifeboatError('bad-request', `unknown channel ${JSON.stringify(String(channel)).slice(0, 80)}`);
  return call(engine, channel, payload);
}

async function call<C extends RequestChannel>(engine: Engine, channel: C, payload: unknown): Promise<ResponseOf<C>> {
  const parsed = requestChannels[channel].request.safeParse(payload ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new LifeboatError('bad-request', `malformed ${channel} request${where}: ${issue?.message ?? 'invalid'}`);
  }
  const handler = engine.handlers[channel] as (request: unknown) => Promise<ResponseOf<C>>;
  return handler(parsed.data);
}
