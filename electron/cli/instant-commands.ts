// `lifeboat instant …`: Instant VM Recovery sessions. A session lives in the engine that serves
// its NFS export, so `instant start` needs a running engine (`lifeboat serve` or the app).
import type { LifeboatApi } from '../../shared/contract.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { formatAge, formatBytes, printableName, table } from '../../shared/format.ts';
import { LifeboatError } from '../errors.ts';
import { follow, runJobCommand, UsageError, type Output } from './cli-output.ts';
import { sourceChoice } from './copy-commands.ts';

export type InstantFlags = {
  point?: string | undefined;
  host?: string | undefined;
  'host-system'?: string | undefined;
  name?: string | undefined;
  'redirect-to'?: string | undefined;
  listen?: string | undefined;
  allow?: string | undefined;
  datastore?: string | undefined;
  transport?: string | undefined;
  'from-snapshot'?: string | undefined;
  detach: boolean;
};

const usage =
  'instant takes: start <vm> (--point P | --from-snapshot ID) --host H [--host-system ESXI] [--name N] [--redirect-to DIR] [--listen ADDR:PORT] [--allow IP,…] | list | migrate <id> --datastore D [--transport auto|san|hotadd] | stop <id>';

/** The sessions as a table, then what the engine says of each that has a note (why it failed,
 * why nobody serves it now), a line each, after the session's id. */
export function sessionsText(sessions: InstantSession[]): string {
  if (sessions.length === 0) return 'no Instant Recovery sessions; `lifeboat instant start <vm> --point P --host H` starts one';
  const notes = sessions
    .filter((session) => session.note !== null)
    .map((session) => `${session.id.slice(0, 8)}: ${printableName(session.note ?? '')}`);
  return [sessionsTable(sessions), ...(notes.length > 0 ? ['', ...notes] : [])].join('\n');
}

function sessionsTable(sessions: InstantSession[]): string {
  return table([
    ['ID', 'VM', 'RUNS AS', 'HOST', 'DATASTORE', 'STATE', 'CACHE', 'READ', 'WRITTEN', 'AGE', 'POWERED ON'],
    ...sessions.map((session) => [
      session.id.slice(0, 8),
      session.vmName,
      session.name,
      `${session.host}${session.hostSystem ? `/${session.hostSystem}` : ''}`,
      session.datastore,
      session.state,
      formatBytes(session.cacheBytes),
      formatBytes(session.bytesRead),
      formatBytes(session.bytesWritten),
      formatAge(session.createdAt, session.endedAt),
      session.poweredOnSeconds === null ? '-' : `${session.poweredOnSeconds.toFixed(1)} s`,
    ]),
  ]);
}

export async function instantCommand(
  api: LifeboatApi,
  rest: string[],
  values: InstantFlags,
  out: Output,
  inProcess: boolean,
): Promise<number> {
  const [verb, argument] = rest;
  switch (verb) {
    case 'start': {
      if (!argument || !values.host) throw new UsageError('instant start takes: <vm> --point P --host H');
      if (inProcess)
        throw new LifeboatError(
          'unavailable',
          'an Instant Recovery session lives in a running engine, which serves its NFS export: start `lifeboat serve` (or the app) for this home first',
        );
      const { job, session } = await api.invoke('instant.start', {
        vm: argument,
        point: values.point ?? 'latest',
        host: values.host,
        ...(values['host-system'] ? { hostSystem: values['host-system'] } : {}),
        ...(values.name ? { name: values.name } : {}),
        ...(values['redirect-to'] ? { redirectTo: values['redirect-to'] } : {}),
        ...(values.listen ? { listen: values.listen } : {}),
        ...(values.allow ? { allow: values.allow.split(',').map((address) => address.trim()) } : {}),
        ...(values['from-snapshot'] ? { fromSnapshot: values['from-snapshot'] } : {}),
        ...(await sourceChoice(values)),
      });
      if (!out.json) process.stderr.write(`job ${job.id} queued: ${job.summary}\n`);
      const ended = await follow(api, job, out);
      const current = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) ?? session;
      if (ended.state !== 'succeeded') {
        out.print(`instant recovery of ${argument} ${ended.state}: ${ended.error ?? ''}`, { job: ended, session: current });
        return 1;
      }
      out.print(
        [
          `session ${current.id.slice(0, 8)}: ${current.name} runs on ${current.hostSystem ?? current.host} from datastore ${current.datastore} (powered on in ${current.poweredOnSeconds?.toFixed(1)} s)`,
          `export: ${current.nfsUrl}`,
          `writes go to ${current.writesTo}`,
        ].join('\n'),
        current,
      );
      return 0;
    }
    case 'list': {
      const sessions = await api.invoke('instant.list', {});
      out.print(sessionsText(sessions), sessions);
      return 0;
    }
    case 'migrate': {
      if (!argument || !values.datastore) throw new UsageError('instant migrate takes: <id> --datastore D [--transport auto|san|hotadd]');
      const transport = values.transport ?? 'auto';
      if (transport !== 'auto' && transport !== 'san' && transport !== 'hotadd')
        throw new UsageError('--transport for a migration is auto, san or hotadd');
      const { job } = await api.invoke('instant.migrate', { sessionId: argument, datastore: values.datastore, transport });
      return runJobCommand(api, job, values.detach, out);
    }
    case 'stop': {
      if (!argument) throw new UsageError('instant stop takes: <id>');
      const { job } = await api.invoke('instant.stop', { sessionId: argument });
      return runJobCommand(api, job, values.detach, out);
    }
    default:
      throw new UsageError(usage);
  }
}
