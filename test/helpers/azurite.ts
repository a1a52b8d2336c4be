// Azurite, Microsoft's Azure Storage emulator (npm), for a test file: its blob service on a free
// loopback port with the accounts asked for, stopped after the file's tests.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after } from 'node:test';
import { tempDir } from './env.ts';

const binary = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'azurite-blob');

export type Azurite = { blobUrl(account: string): string; keys: Record<string, string>; stop(): Promise<void>; port: number };

export async function startAzurite(accounts: string[]): Promise<Azurite> {
  const location = await tempDir('lifeboat-azurite-');
  const keys = Object.fromEntries(accounts.map((account) => [account, Buffer.from(`${account}-key-for-tests-only`).toString('base64')]));
  const child = spawn(
    process.execPath,
    [binary, '--blobHost', '127.0.0.1', '--blobPort', '0', '--location', location, '--skipApiVersionCheck', '--loose'],
    {
      env: {
        ...process.env,
        AZURITE_ACCOUNTS: Object.entries(keys)
          .map(([account, key]) => `${account}:${key}`)
          .join(';'),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.kill('SIGKILL');
    await exited;
  };
  after(stop);
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('Azurite did not start in 30 s')), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const found = /listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(text);
      if (found) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`Azurite exited with ${code}`)));
  });
  return { port, keys, stop, blobUrl: (account) => `http://127.0.0.1:${port}/${account}` };
}
