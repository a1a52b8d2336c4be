// The three backup tools of the side-by-side part behind one shape: Lifeboat's engine, and restic
// and borg as the Debian packages install them (run as processes, each with its repository,
// cache and configuration under the bench's root, so nothing of the user's is read or written).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';

/** One tool backing up the bench's flat disk: a fresh repository per run, then a full backup, an
 * incremental, a restore of the latest point. */
export type BackupTool = {
  /** Column header: the name and the version that ran. */
  readonly name: string;
  /** Compression and encryption as configured here. */
  readonly settings: string;
  open(run: number): Promise<void>;
  full(): Promise<void>;
  incremental(): Promise<void>;
  /** Restores the latest point under `target` (a new folder); returns the restored flat disk. */
  restore(target: string): Promise<string>;
  /** Apparent bytes (du -sb) of the repository folder. */
  repositoryBytes(): number;
  close(): Promise<void>;
};

/** The flat disk the tools back up, and the VM folder around it (Lifeboat backs up the folder). */
export type BenchVm = { source: string; flat: string };

const STDERR_KEPT = 4096;

/** Runs a tool to its end; a non-zero exit rejects with the end of what it said on stderr. */
function runTool(command: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT)));
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited with ${code ?? signal}: ${stderr.trim()}`)),
    );
  });
}

export function apparentBytes(folder: string): number {
  return Number(execFileSync('du', ['-sb', folder], { encoding: 'utf8' }).split('\t')[0]);
}

/** The first line of `command args`, or null when the command is not installed. */
function versionLine(command: string, args: string[]): string | null {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return result.error || result.status !== 0 ? null : (result.stdout.split('\n')[0] ?? '');
}

/** Lifeboat's engine in a home of its own per run; `password` makes its backups an encrypted chain
 * (the footnote to restic, which always encrypts). */
export class LifeboatTool implements BackupTool {
  readonly name: string;
  readonly settings: string;
  /** The restore's steps and their seconds, from the job's event log, of the last restore. */
  restoreSteps = '';
  private readonly root: string;
  private readonly vm: BenchVm;
  private readonly password: string | undefined;
  private engine: Engine | null = null;
  private home = '';

  constructor(root: string, vm: BenchVm, password?: string) {
    this.root = root;
    this.vm = vm;
    this.password = password;
    this.name = password ? 'Lifeboat encrypted' : 'Lifeboat';
    this.settings = `zstd level 1 per 1 MiB block (electron/repository/codec.ts), ${password ? 'AES-256-GCM per block' : 'not encrypted'}`;
  }

  async open(run: number): Promise<void> {
    this.home = join(this.root, `${this.password ? 'lifeboat-sealed' : 'lifeboat'}-home-${run}`);
    this.engine = await openServedEngine({ home: this.home });
  }

  full(): Promise<void> {
    return this.backup();
  }

  incremental(): Promise<void> {
    return this.backup();
  }

  async restore(target: string): Promise<string> {
    const engine = this.opened();
    const job = await engine.jobs.whenEnded(
      (
        await engine.restores.start(
          { vm: 'bench', point: 'latest', target: { kind: 'local', path: target }, ...(this.password ? { password: this.password } : {}) },
          'bench',
        )
      ).id,
    );
    if (job.state !== 'succeeded') throw new Error(`Lifeboat restore failed: ${job.error}`);
    this.restoreSteps = stepDurations(engine.catalog.jobEvents(job.id));
    return join(target, 'bench-flat.vmdk');
  }

  repositoryBytes(): number {
    return apparentBytes(join(this.home, 'repositories'));
  }

  async close(): Promise<void> {
    await this.engine?.close();
    this.engine = null;
    if (this.home) await rm(this.home, { recursive: true, force: true });
  }

  private async backup(): Promise<void> {
    const engine = this.opened();
    const encryption = this.password ? { encrypt: true, password: this.password } : { encrypt: false };
    const job = await engine.jobs.whenEnded((await engine.backups.start(this.vm.source, 'bench', encryption)).id);
    if (job.state !== 'succeeded') throw new Error(`Lifeboat backup failed: ${job.error}`);
  }

  private opened(): Engine {
    if (!this.engine) throw new Error('the Lifeboat tool is not open');
    return this.engine;
  }
}

/** Seconds per step, from the job's own event log ("step X started" ... next step / end). */
export function stepDurations(events: { at: string; message: string }[]): string {
  const starts = events
    .filter((event) => event.message.startsWith('step '))
    .map((event) => ({ name: event.message.split(' ')[1], at: Date.parse(event.at) }));
  const end = Date.parse(events.at(-1)?.at ?? '');
  return starts.map((step, i) => `${step.name} ${(((starts[i + 1]?.at ?? end) - step.at) / 1000).toFixed(2)}`).join(', ');
}

/** A tool run as a process, with its repository (and cache) in a folder of its own per run. */
abstract class PeerTool implements BackupTool {
  abstract readonly settings: string;
  readonly name: string;
  protected readonly vm: BenchVm;
  protected env: NodeJS.ProcessEnv = {};
  private readonly root: string;
  private folder = '';

  constructor(name: string, root: string, vm: BenchVm) {
    this.name = name;
    this.root = root;
    this.vm = vm;
  }

  /** The environment that points the tool at `folder`'s repository, cache and configuration. */
  protected abstract environment(folder: string): NodeJS.ProcessEnv;
  protected abstract init(): Promise<void>;
  abstract full(): Promise<void>;
  abstract incremental(): Promise<void>;
  abstract restore(target: string): Promise<string>;

  async open(run: number): Promise<void> {
    this.folder = join(this.root, `${this.name.split(' ')[0]}-${run}`);
    this.env = this.environment(this.folder);
    await mkdir(this.folder);
    await this.init();
  }

  repositoryBytes(): number {
    return apparentBytes(join(this.folder, 'repository'));
  }

  async close(): Promise<void> {
    if (this.folder) await rm(this.folder, { recursive: true, force: true });
  }
}

class ResticTool extends PeerTool {
  readonly settings =
    "zstd at its default 'auto' level (repository version 2), always encrypted (AES-256-CTR + Poly1305); its restore writes holes as zeros (no --sparse in 0.14)";

  protected environment(folder: string): NodeJS.ProcessEnv {
    return { RESTIC_REPOSITORY: join(folder, 'repository'), RESTIC_PASSWORD: 'bench', RESTIC_CACHE_DIR: join(folder, 'cache') };
  }

  protected init(): Promise<void> {
    return runTool('restic', ['init', '--quiet'], this.env);
  }

  full(): Promise<void> {
    return runTool('restic', ['backup', '--quiet', this.vm.flat], this.env);
  }

  /** restic finds the full backup as the parent by host and path. */
  incremental(): Promise<void> {
    return this.full();
  }

  async restore(target: string): Promise<string> {
    await runTool('restic', ['restore', 'latest', '--quiet', '--target', target], this.env);
    return join(target, this.vm.flat);
  }
}

class BorgTool extends PeerTool {
  readonly settings = 'zstd level 3 (--compression zstd,3), not encrypted (init -e none); extract --sparse';

  protected environment(folder: string): NodeJS.ProcessEnv {
    // BORG_BASE_DIR: its cache, configuration and security folders under the bench's root too.
    return {
      BORG_REPO: join(folder, 'repository'),
      BORG_BASE_DIR: join(folder, 'base'),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
    };
  }

  protected init(): Promise<void> {
    return runTool('borg', ['init', '-e', 'none'], this.env);
  }

  full(): Promise<void> {
    return runTool('borg', ['create', '--compression', 'zstd,3', '::full', this.vm.flat], this.env);
  }

  incremental(): Promise<void> {
    return runTool('borg', ['create', '--compression', 'zstd,3', '::incremental', this.vm.flat], this.env);
  }

  /** borg extracts into the current folder, under the path it stored (without the leading /). */
  async restore(target: string): Promise<string> {
    await mkdir(target);
    await runTool('borg', ['extract', '--sparse', '::incremental'], this.env, target);
    return join(target, relative('/', this.vm.flat));
  }
}

/** restic and borg where installed; a line for each one that is not. */
export function peerTools(root: string, vm: BenchVm): { tools: BackupTool[]; skipped: string[] } {
  const tools: BackupTool[] = [];
  const skipped: string[] = [];
  const restic = versionLine('restic', ['version'])?.match(/^restic (\S+)/)?.[1];
  if (restic) tools.push(new ResticTool(`restic ${restic}`, root, vm));
  else skipped.push('restic: skipped, not installed (apt-get install restic)');
  const borg = versionLine('borg', ['--version'])?.match(/^borg (\S+)/)?.[1];
  if (borg) tools.push(new BorgTool(`borg ${borg}`, root, vm));
  else skipped.push('borg: skipped, not installed (apt-get install borgbackup)');
  return { tools, skipped };
}
