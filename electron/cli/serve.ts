// `lifeboat serve`: run the engine for this home (which serves the CLI on the home's socket) and
// the console on a loopback HTTP + WebSocket address, until told to stop.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import { startConsoleServer } from '../rpc/ws-server.ts';

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
  // The browser console signs in with an account: say how to make the first one.
  if (engine.auth.listAccounts().length === 0 && engine.auth.directory() === null) {
    process.stderr.write('no accounts yet: the console needs one to sign in (`lifeboat accounts add NAME --role administrator --password-env VAR`)\n');
  }
  console.log(options.json ? JSON.stringify({ url, home: options.home }) : `Lifeboat console: ${url}\n(home ${options.home}; Ctrl+C stops)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await engine.close();
  return 0;
}
