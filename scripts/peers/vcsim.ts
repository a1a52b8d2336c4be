// govmomi's vCenter simulator as a peer for tests and the bench: built once from
// test/vcsim/main.go with Debian's golang-go and golang-github-vmware-govmomi-dev, started on
// 127.0.0.1, stopped by closing its standard input. Here, not under test/, so the bench may use it.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const binary = join(root, 'node_modules', '.cache', 'lifeboat', 'vcsim');
const source = join(root, 'test', 'vcsim');

export type Vcsim = { url: string; user: string; password: string; datastores: Record<string, string>; stop(): Promise<void> };

function built(): boolean {
  return existsSync(binary) && statSync(binary).mtimeMs >= statSync(join(source, 'main.go')).mtimeMs;
}

/** Why the simulator cannot run here, or null when it can. */
export function vcsimUnavailable(): string | null {
  if (built()) return null;
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return 'no Go toolchain: install golang-go and golang-github-vmware-govmomi-dev (.ci/run does)';
  }
  if (!existsSync('/usr/share/gocode/src/github.com/vmware/govmomi/simulator')) return 'golang-github-vmware-govmomi-dev is not installed';
  return null;
}

async function build(): Promise<void> {
  if (built()) return;
  await mkdir(join(root, 'node_modules', '.cache', 'lifeboat'), { recursive: true });
  execFileSync('go', ['build', '-o', binary, '.'], {
    cwd: source,
    env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** `cwd`: where NAS datastores' local paths are resolved (an engine home's instant folder). */
export async function startVcsim(options: { cwd?: string } = {}): Promise<Vcsim> {
  await build();
  const user = 'lifeboat';
  const password = 'restore-drill';
  const child = spawn(binary, ['-listen', '127.0.0.1:0', '-user', user, '-password', password], {
    stdio: ['pipe', 'pipe', 'ignore'],
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('vcsim printed nothing in 20 s')), 20_000);
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const newline = text.indexOf('\n');
        if (newline >= 0) {
          clearTimeout(timer);
          resolve(text.slice(0, newline));
        }
      });
      child.once('exit', (code) => reject(new Error(`vcsim exited with ${code}`)));
    });
    const info = JSON.parse(line) as { url: string; datastores: Record<string, string> };
    const url = new URL(info.url);
    url.username = '';
    url.password = '';
    return { url: url.href, user, password, datastores: info.datastores, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
