// A real `lifeboat mover` process as a peer for tests and the bench: its own state folder and
// datastore views, on loopback, its --json events collected; stop() sends SIGTERM, then SIGKILL
// if it does not go. Here, not under test/, so the bench may use it.
import { readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

export type MoverEvent = { event: string; [key: string]: unknown };

export type MoverStart = {
  engine: string;
  state: string;
  token?: string;
  datastores: Record<string, string>;
  transports?: string[];
  slots?: number;
  env?: Record<string, string>;
};

export class MoverProcess {
  readonly child: ChildProcess;
  readonly events: MoverEvent[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();

  constructor(start: MoverStart) {
    const args = [cli, 'mover', '--engine', start.engine, '--state', start.state, '--json'];
    if (start.token) args.push('--token', start.token);
    for (const [name, path] of Object.entries(start.datastores)) args.push('--datastore', `${name}=${path}`);
    if (start.transports) args.push('--transports', start.transports.join(','));
    if (start.slots) args.push('--slots', String(start.slots));
    this.child = spawn(process.execPath, args, { env: { ...process.env, ...start.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let pending = '';
    this.child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          this.events.push(JSON.parse(line) as MoverEvent);
        } catch {
          this.events.push({ event: 'unparsed', line });
        }
      }
      this.notify();
    });
    this.child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.notify();
        resolve({ code, signal });
      }),
    );
  }

  private notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** The `nth` event named `event` (past or to come); bounded by `timeoutMs`. */
  waitFor(event: string, timeoutMs = 30_000, nth = 1): Promise<MoverEvent> {
    return this.waitForWhere(event, (_, index) => index === nth - 1, timeoutMs);
  }

  /** The first event named `event` (past or to come) that `matches`, e.g. the one of a given task:
   * a count read before an earlier test's late event arrives would pick that one instead. */
  async waitForWhere(event: string, matches: (seen: MoverEvent, index: number) => boolean, timeoutMs = 30_000): Promise<MoverEvent> {
    const found = (): MoverEvent | undefined => this.events.filter((candidate) => candidate.event === event).find(matches);
    const already = found();
    if (already) return already;
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const seen = found();
        if (seen) {
          done();
          resolve(seen);
        } else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`mover exited (${this.child.exitCode ?? this.child.signalCode}) before "${event}": ${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no "${event}" from the mover in ${timeoutMs} ms; events ${JSON.stringify(this.events)}; stderr ${this.stderr}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  count(event: string): number {
    return this.events.filter((candidate) => candidate.event === event).length;
  }

  /** The most memory the process has held (VmHWM), in bytes; null once it has exited. */
  peakRss(): number | null {
    try {
      const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1];
      return kib === undefined ? null : Number(kib) * 1024;
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}
