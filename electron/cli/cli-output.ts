// What every CLI command shares: its output (human or --json), usage errors, and following a
// job to its end with progress on stderr.
import type { LifeboatApi } from '../../shared/contract.ts';
import type { Job } from '../../shared/domain.ts';
import { jobEnd } from '../../shared/job-end.ts';
import { formatBytes, formatSeconds } from '../../shared/format.ts';
import { resolve } from 'node:path';
import { LifeboatError } from '../errors.ts';
import { checkTargetPath } from '../fs/target-check.ts';

export type Output = { json: boolean; print(human: string, data: unknown): void };

export class UsageError extends LifeboatError {
  constructor(message: string) {
    super('bad-request', message);
  }
}

export function localPath(argument: string | undefined, what: string): string {
  if (!argument || !argument.startsWith('local:') || argument.length <= 'local:'.length)
    throw new UsageError(`${what} must be local:<folder>`);
  return resolve(argument.slice('local:'.length)); // the operator's folder, not the engine's
}

/** A file the CLI writes itself (`--out FILE`), checked as every target is (no pseudo file
 * system, nothing inside the home or a repository) and made absolute. */
export async function checkedOutFile(api: LifeboatApi, home: string, path: string): Promise<string> {
  const sites = await api.invoke('repos.list', {});
  return checkTargetPath(path, '--out', { home, repositories: sites.map((site) => ({ name: site.name, path: site.path })) });
}

/** Repeated KEY=VALUE flags (--datastore-path DS=PATH, --disk-datastore DISK=DS, ...) as a record. */
export function keyValuePairs(pairs: string[] | undefined, flag: string, shape: string): Record<string, string> {
  const record: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new UsageError(`${flag} takes ${shape}, not ${pair}`);
    record[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return record;
}

export function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} takes a whole number`);
  return Number(value);
}

/** A duration such as `90s`, `30m` or `12h`, in milliseconds; `fallback` when not given. */
export function durationMs(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const match = /^(\d{1,6})(s|m|h)$/.exec(value);
  if (!match || Number(match[1]) === 0) throw new UsageError(`${name} takes a duration such as 90s, 30m or 12h`);
  return Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as 's' | 'm' | 'h'];
}

export async function follow(api: LifeboatApi, job: Job, out: Output): Promise<Job> {
  const interactive = process.stderr.isTTY && !out.json;
  let lastLine = 0;
  const offProgress = api.on('job.progress', (progress) => {
    if (progress.jobId !== job.id || out.json) return;
    const now = Date.now();
    if (!interactive && now - lastLine < 5000) return;
    lastLine = now;
    const percent = progress.bytesTotal > 0 ? Math.floor((progress.bytesDone * 100) / progress.bytesTotal) : 0;
    const eta = progress.etaSeconds === null ? '' : `, ${formatSeconds(progress.etaSeconds)} left`;
    const line = `${progress.step}: ${percent}% ${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)} at ${formatBytes(progress.bytesPerSecond)}/s${eta}`;
    process.stderr.write(interactive ? `\r${line.padEnd(78)}` : `${line}\n`);
  });
  try {
    return await jobEnd(
      api,
      job.id,
      (reason) =>
        new LifeboatError(
          'unavailable',
          `lost the engine while following job ${job.id} (${reason}); \`lifeboat jobs show ${job.id}\` tells how it ended`,
        ),
    );
  } finally {
    offProgress();
    if (interactive) process.stderr.write('\n');
  }
}

export function describeJob(job: Job): string {
  const lines = [`job ${job.id}: ${job.summary}`, `state: ${job.state}${job.error ? ` (${job.error})` : ''}`];
  for (const step of job.steps) lines.push(`  ${step.state.padEnd(8)} ${step.name}`);
  if (job.result) lines.push(`result: ${JSON.stringify(job.result)}`);
  return lines.join('\n');
}

export async function runJobCommand(api: LifeboatApi, job: Job, detach: boolean, out: Output): Promise<number> {
  if (detach) {
    out.print(`queued job ${job.id}`, job);
    return 0;
  }
  if (!out.json) process.stderr.write(`job ${job.id} queued: ${job.summary}\n`);
  const ended = await follow(api, job, out);
  out.print(describeJob(ended), ended);
  return ended.state === 'succeeded' ? 0 : 1;
}
