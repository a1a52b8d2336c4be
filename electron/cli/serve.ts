// `lifeboat serve`: run the engine for this home (which serves the CLI on the home's socket) and
// the console on a loopback HTTP + WebSocket address, until told to stop.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import { startConsoleServer } from '../rpc/ws-server.ts';
import { onStopSignal, type StopSignal } from './signals.ts';

export async function serve(options: { home: string; host: string; port: number; rendererDir: string; allowRemote: boolean; json: boolean }): Promise<number> {
  try {
    await access(join(options.rendererDir, 'index.html'));
  } catch {
    throw new LifeboatError('unavailable', `the console is not built (${options.rendererDir}); run \`npm run build\` first`);
  }
  const engine = await Engine.open({ home: options.home });
  const server = await startConsoleServer(engine, options).catch(async (error: unknown) => {
    await engine.close();
    throw error;
  });
  const url = `${server.url}/#token=${server.mintToken()}`;
  console.log(options.json ? JSON.stringify({ url, home: options.home }) : `Lifeboat console: ${url}\n(home ${options.home}; Ctrl+C stops)`);
  // A stop signal is how a served engine is meant to end: running jobs are interrupted (a local
  // restore resumes with `lifeboat jobs resume`), and their followers hear so before the servers close.
  const signal = await new Promise<StopSignal>((resolve) => onStopSignal(async (received) => resolve(received)));
  process.stderr.write(`lifeboat: ${signal}: stopping the engine\n`);
  await engine.close();
  await server.close();
  return 0;
}
