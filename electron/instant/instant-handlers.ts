// The instant-recovery channels: start a session (from a backup or an array snapshot; a redirect
// folder checked first), list, migrate and stop sessions.
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { TargetChecks } from '../restore/target-checks.ts';
import type { InstantService } from './instant-service.ts';

export function instantHandlers(
  instant: InstantService,
  checks: TargetChecks,
): ChannelHandlers<'instant.start' | 'instant.list' | 'instant.migrate' | 'instant.stop'> {
  return {
    'instant.start': async ({ fromSnapshot, ...unchecked }, { actor }) => {
      const request =
        unchecked.redirectTo === undefined
          ? unchecked
          : { ...unchecked, redirectTo: await checks.checkLocalPath(unchecked.redirectTo, 'the redirect folder') };
      return fromSnapshot ? instant.startFromSnapshot({ ...request, fromSnapshot }, actor) : instant.start(request, actor);
    },
    'instant.list': async () => instant.list(),
    'instant.migrate': async (request, { actor }) => ({ job: instant.migrate(request, actor) }),
    'instant.stop': async ({ sessionId }, { actor }) => ({ job: instant.stop(sessionId, actor) }),
  };
}
