// `lifeboat serve`: run the engine for this home (which serves the CLI on the home's socket) and
// the console: plain HTTP + WebSocket on loopback, HTTPS + WSS beyond it (or with --tls), until
// told to stop. A certificate the engine makes has its fingerprint printed for the operator.
import { access } from 'node:fs/promises';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import type { EngineOptions } from '../engine/engine.ts';
import { openServedEngine } from '../rpc/open-served-engine.ts';
import { LifeboatError } from '../errors.ts';
import { decideListen } from '../rpc/listen-policy.ts';
import type { SessionLimits } from '../auth/session-store.ts';
import { homeCertificate, operatorCertificate, type ConsoleCertificate } from '../rpc/tls/console-certificate.ts';
import { startConsoleServer } from '../rpc/ws-server.ts';
import { listenForMovers, parseMoverAddress, type MoverListener } from '../rpc/mover-listener.ts';
import { onStopSignal, type StopSignal } from './signals.ts';

export type ServeOptions = {
  home: string;
  host: string;
  port: number;
  rendererDir: string;
  allowRemote: boolean;
  forceTls: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** HOST:PORT of the data movers' port (mutual TLS), none when undefined. */
  movers: string | undefined;
  /** Share the PostgreSQL catalog and its job queue with other engines. */
  shared: boolean;
  json: boolean;
  secretsKey: NonNullable<EngineOptions['secretsKey']>;
  /** How long a console session key lives idle, and at most. */
  sessionLimits: SessionLimits;
};

const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** The names a certificate the engine makes is for: the bound host, this machine's name and
 * addresses, and loopback. Only the bound host must be on a kept one (addresses come and go). */
function certificateNames(host: string): { names: string[]; required: string[] } {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address.replace(/%.*$/, '')));
  const bound = WILDCARDS.has(host) ? [] : [host];
  return {
    names: [...new Set([...bound, hostname(), 'localhost', '127.0.0.1', '::1', ...addresses])],
    required: bound.length > 0 ? bound : [hostname()],
  };
}

async function certificateFor(options: ServeOptions, source: 'operator' | 'self-signed'): Promise<ConsoleCertificate> {
  if (source === 'operator') return operatorCertificate(options.tlsCert as string, options.tlsKey as string, new Date());
  return homeCertificate(options.home, { ...certificateNames(options.host), now: new Date() }, (line) => {
    if (!options.json) console.log(line);
  });
}

/** Often enough that an idle session is closed soon after its limit, never more than every second. */
function sweepInterval(limits: SessionLimits): number {
  return Math.min(30_000, Math.max(1_000, Math.floor(limits.idleMs / 4)));
}

export async function serve(options: ServeOptions): Promise<number> {
  const moverAddress = options.movers === undefined ? null : parseMoverAddress(options.movers);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new LifeboatError('bad-request', '--tls-cert and --tls-key go together');
  const decision = decideListen({
    host: options.host,
    allowRemote: options.allowRemote,
    forceTls: options.forceTls,
    operatorCertificate: options.tlsCert !== undefined,
  });
  try {
    await access(join(options.rendererDir, 'index.html'));
  } catch {
    throw new LifeboatError('unavailable', `the console is not built (${options.rendererDir}); run \`npm run build\` first`);
  }
  // The operator's files are checked before the engine opens: a bad one changes nothing.
  const tls = decision.certificate === 'none' ? null : await certificateFor(options, decision.certificate);
  const engine = await openServedEngine({
    home: options.home,
    sessionLimits: options.sessionLimits,
    secretsKey: options.secretsKey,
    shared: options.shared,
  });
  const server = await startConsoleServer(engine, {
    host: options.host,
    port: options.port,
    rendererDir: options.rendererDir,
    allowRemote: options.allowRemote,
    tls,
    sweepMs: sweepInterval(options.sessionLimits),
  }).catch(async (error: unknown) => {
    await engine.close();
    throw error;
  });
  let movers: MoverListener | null = null;
  if (moverAddress) {
    movers = await listenForMovers(engine, moverAddress).catch(async (error: unknown) => {
      await engine.close();
      await server.close();
      throw new LifeboatError('unavailable', `cannot open the movers' port ${options.movers}: ${(error as Error).message}`);
    });
  }
  const url = `${server.url}/#token=${server.mintToken()}`;
  // The browser console signs in with an account: say how to make the first one.
  if (engine.auth.listAccounts().length === 0 && engine.auth.directory() === null) {
    process.stderr.write(
      'no accounts yet: the console needs one to sign in (`lifeboat accounts add NAME --role administrator --password-env VAR`)\n',
    );
  }
  const certificate = tls ? { source: tls.source, sha256: tls.fingerprint256, spkiSha256: tls.spkiSha256, new: tls.made } : null;
  const secrets = engine.secretsKeyDescription;
  if (options.json) console.log(JSON.stringify({ url, home: options.home, certificate, secrets, movers: movers?.address ?? null }));
  else {
    const lines = [`Lifeboat console: ${url}`];
    if (tls) {
      lines.push(
        `TLS certificate (${tls.source === 'operator' ? 'yours' : `the engine's own${tls.made ? ', new' : ''}`}) SHA-256 fingerprint:`,
        `  ${tls.fingerprint256}`,
      );
      if (tls.source === 'self-signed') lines.push('Check that your browser shows this fingerprint before you trust the certificate.');
    }
    if (movers) lines.push(`Data movers connect to ${movers.address} (\`lifeboat movers add NAME --host HOST\` gives one its token)`);
    lines.push(`(home ${options.home}; secrets key: ${secrets}; Ctrl+C stops)`);
    console.log(lines.join('\n'));
  }
  // A stop signal is how a served engine is meant to end: running jobs are interrupted (a local
  // restore resumes with `lifeboat jobs resume`), and their followers hear so before the servers close.
  const signal = await new Promise<StopSignal>((resolve) => onStopSignal(async (received) => resolve(received)));
  process.stderr.write(`lifeboat: ${signal}: stopping the engine\n`);
  await engine.close();
  await movers?.close();
  await server.close();
  return 0;
}
