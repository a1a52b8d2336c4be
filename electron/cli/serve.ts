// `lifeboat serve`: run the engine for this home (which serves the CLI on the home's socket) and
// the console on a loopback HTTP + WebSocket address, until told to stop.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Engine, type EngineOptions } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';
import { startConsoleServer } from '../rpc/ws-server.ts';

export async function serve(options: { home: string; host: string; port: number; rendererDir: string; allowRemote: boolean; json: boolean; secretsKey: NonNullable<EngineOptions['secretsKey']> }): Promise<number> {
  try {
    await access(join(options.rendererDir, 'index.html'));
  } catch {
    throw new LifeboatError('unavailable', `the console is not built (${options.rendererDir}); run \`npm run build\` first`);
  }
  const engine = await Engine.open({ home: options.home, secretsKey: options.secretsKey });
  const server = await startConsoleServer(engine, options).catch(async (error: unknown) => {
    await engine.close();
    throw error;
  });
  const url = `${server.url}/#token=${server.mintToken()}`;
  const secrets = engine.secretsKeyDescription;
  console.log(options.json ? JSON.stringify({ url, home: options.home, secrets }) : `Lifeboat console: ${url}\n(home ${options.home}; secrets key: ${secrets}; Ctrl+C stops)`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  await engine.close();
  return 0;
}
