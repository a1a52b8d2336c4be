// A command past --help: the home and its secrets key, then `serve` (loaded only for it), or a
// connection to the engine that serves the home (or one opened here for the command), the
// saved sign-in, and the command's group.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../engine/engine.ts';
import { resolveHome, useCatalog } from '../home.ts';
import { keySourceFromProcess } from '../secrets/key-source.ts';
import { DEFAULT_SESSION_LIMITS } from '../auth/session-store.ts';
import { arrayCommand, snapshotsCommand } from './array-commands.ts';
import { accountsCommand, directoryCommand, loginCommand, logoutCommand, resumeSession, whoamiCommand } from './auth-commands.ts';
import { backupCommand, pointsCommand, vmsCommand } from './catalog-commands.ts';
import { durationMs, positiveInt, UsageError, type Output } from './cli-output.ts';
import { connect, type Connection } from './connect.ts';
import { copiesCommand, keysCommand, reposCommand } from './copy-commands.ts';
import { filesCommand } from './files-commands.ts';
import { azureCommand, hostsCommand, proxiesCommand } from './host-commands.ts';
import { instantCommand } from './instant-commands.ts';
import { auditCommand, jobsCommand, settingsCommand, verifyCommand } from './jobs-commands.ts';
import { labCommand } from './lab-command.ts';
import { moversCommand } from './mover-commands.ts';
import type { CliValues } from './options.ts';
import { listingNeeds } from './read-only-commands.ts';
import { rehearsalsCommand, rehearseCommand, restoreCommand } from './restore-commands.ts';
import { sessionsCommand } from './sessions-command.ts';
import { exitCodeOf, onStopSignal } from './signals.ts';
import { promptsCommand, tapeCommand } from './tape-commands.ts';

/** The command's own engine stops on a signal as a served one does: jobs interrupted, not lost. */
function stopEngineOnSignal(engine: Engine): ReturnType<typeof onStopSignal> {
  return onStopSignal(async (signal) => {
    process.stderr.write(
      `lifeboat: ${signal}: stopping; running jobs are interrupted (\`lifeboat jobs resume <id>\` continues a restore)\n`,
    );
    await engine.close();
  });
}

function commandGroup(command: string, rest: string[], values: CliValues, out: Output, connection: Connection, home: string) {
  const { api } = connection;
  switch (command) {
    case 'login':
      return loginCommand(api, home, values, out);
    case 'logout':
      return logoutCommand(api, home, out);
    case 'whoami':
      return whoamiCommand(api, out);
    case 'accounts':
      return accountsCommand(api, rest, values, out);
    case 'directory':
      return directoryCommand(api, rest, values, out);
    case 'vms':
      return vmsCommand(api, out);
    case 'points':
      return pointsCommand(api, rest, out);
    case 'backup':
      return backupCommand(api, rest, values, out);
    case 'restore':
      return restoreCommand(api, rest, values, out);
    case 'jobs':
      return jobsCommand(api, rest, values, out);
    case 'files':
      return filesCommand(api, rest, values, out);
    case 'verify':
      return verifyCommand(api, rest, values, out);
    case 'settings':
      return settingsCommand(api, rest, out);
    case 'audit':
      return auditCommand(api, rest, out);
    case 'hosts':
      return hostsCommand(api, rest, values, out);
    case 'tape':
      return tapeCommand(api, rest, values, out);
    case 'rehearse':
      return rehearseCommand(api, rest, values, out);
    case 'rehearsals':
      return rehearsalsCommand(api, rest, values, out, home);
    case 'prompts':
    case 'prompt':
      return promptsCommand(api, command, rest, values, out);
    case 'proxies':
      return proxiesCommand(api, rest, values, out);
    case 'movers':
      return moversCommand(api, rest, values, out);
    case 'instant':
      return instantCommand(api, rest, values, out, connection.engine !== null);
    case 'array':
      return arrayCommand(api, rest, values, out);
    case 'azure':
      return azureCommand(api, rest, values, out);
    case 'snapshots':
      return snapshotsCommand(api, values, out);
    case 'repos':
      return reposCommand(api, rest, values, out);
    case 'copies':
      return copiesCommand(api, rest, values, out);
    case 'keys':
      return keysCommand(api, rest, values, out, home);
    case 'sessions':
      return sessionsCommand(api, rest, values.all, out);
    case 'lab':
      return labCommand(api, rest, values, out, home);
    default:
      throw new UsageError(`unknown command ${command}; \`lifeboat --help\` lists them`);
  }
}

export async function runCommand(command: string, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (values.operator !== undefined)
    throw new UsageError(
      '--operator no longer says who you are: sign in with `lifeboat login --user NAME` (the audit log and the four-eyes rule use the signed-in account)',
    );
  // Moves a home's catalog with no engine open (it holds the home's socket itself).
  if (command === 'catalog') return (await import('./catalog-migrate-command.ts')).catalogCommand(rest, values, out);
  const home = resolveHome(values.home);
  // Recorded in the home, so every later command (and a served engine) finds the same catalog.
  if (values.catalog !== undefined) await useCatalog(home, values.catalog);
  const secretsKey = keySourceFromProcess(
    { keyFile: values['secrets-key-file'], passphraseEnv: values['secrets-passphrase-env'] },
    homedir(),
    existsSync,
  ).source;
  // Paths are the operator's, relative to where the command runs, not to where the engine runs.
  for (const option of ['out', 'redirect-to', 'staging', 'path', 'image'] as const) {
    const given = values[option];
    if (given !== undefined) values[option] = resolve(given);
  }

  if (command === 'serve') {
    const { serve } = await import('./serve.ts');
    return serve({
      home,
      host: values.host ?? '127.0.0.1',
      port: positiveInt(values.port, 7420, '--port'),
      rendererDir: join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'renderer'),
      allowRemote: values['allow-remote'],
      forceTls: values.tls,
      tlsCert: values['tls-cert'],
      tlsKey: values['tls-key'],
      movers: values.movers,
      shared: values.shared,
      json: values.json,
      secretsKey,
      sessionLimits: {
        idleMs: durationMs(values['session-idle'], DEFAULT_SESSION_LIMITS.idleMs, '--session-idle'),
        absoluteMs: durationMs(values['session-max'], DEFAULT_SESSION_LIMITS.absoluteMs, '--session-max'),
      },
    });
  }
  const connection = await connect(home, secretsKey, listingNeeds(command, rest, values['from-index']));
  const signals = connection.engine ? stopEngineOnSignal(connection.engine) : null;
  let code: number;
  try {
    // Who is at the keyboard is the signed-in account of `lifeboat login`, else the OS user.
    if (command !== 'login' && command !== 'logout') await resumeSession(connection.api, home);
    code = await commandGroup(command, rest, values, out, connection, home);
  } finally {
    await connection.close();
    signals?.remove();
  }
  // A stop signal (during the job or while its follow-ups drained) is the command's end.
  const signal = signals?.received();
  return signal ? exitCodeOf(signal) : code;
}
