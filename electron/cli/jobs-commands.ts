// `lifeboat jobs …`, `verify`, `settings` and `audit`: the job queue and what governs it.
import type { LifeboatApi } from '../../shared/contract.ts';
import { table } from '../../shared/format.ts';
import { describeJob, runJobCommand, UsageError, type Output } from './cli-output.ts';
import { sourceChoice } from './copy-commands.ts';
import type { CliValues } from './options.ts';

export async function jobsCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (rest[0] === 'resume') {
    if (!rest[1]) throw new UsageError('jobs resume takes a job id');
    const { job } = await api.invoke('jobs.resume', { jobId: rest[1] });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (rest[0] === 'approve') {
    if (!rest[1]) throw new UsageError('jobs approve takes a job id');
    const { job } = await api.invoke('jobs.approve', { jobId: rest[1] });
    out.print(`job ${job.id} approved; it is queued`, job);
    return 0;
  }
  if (rest[0] === 'discard') {
    if (!rest[1]) throw new UsageError('jobs discard takes a job id');
    const { job } = await api.invoke('jobs.discard', { jobId: rest[1] });
    out.print(`job ${job.id} discarded; what it left behind is removed`, job);
    return 0;
  }
  if (rest[0] === 'show' || rest[0] === 'cancel') {
    if (!rest[1]) throw new UsageError(`jobs ${rest[0]} takes a job id`);
    if (rest[0] === 'cancel') {
      const { job } = await api.invoke('jobs.cancel', { jobId: rest[1] });
      out.print(`cancel requested for job ${job.id}`, job);
      return 0;
    }
    const detail = await api.invoke('jobs.get', { jobId: rest[1] });
    out.print(
      `${describeJob(detail.job)}\n${detail.events.map((event) => `${event.at} ${event.level} ${event.message}`).join('\n')}`,
      detail,
    );
    return 0;
  }
  const jobs = await api.invoke('jobs.list', {});
  out.print(
    table([
      ['ID', 'KIND', 'VM', 'STATE', 'PROGRESS', 'CREATED'],
      ...jobs.map((job) => [
        job.id,
        job.kind,
        job.vmName,
        job.state,
        job.bytesTotal > 0 ? `${Math.floor((job.bytesDone * 100) / job.bytesTotal)}%` : '-',
        job.createdAt,
      ]),
    ]),
    jobs,
  );
  return 0;
}

export async function verifyCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (!rest[0]) throw new UsageError('verify takes a VM name or id');
  const { password, recoveryKey } = await sourceChoice(values);
  const { job } = await api.invoke('verify.start', {
    vm: rest[0],
    ...(values.point ? { point: values.point } : {}),
    ...(password ? { password } : {}),
    ...(recoveryKey ? { recoveryKey } : {}),
  });
  return await runJobCommand(api, job, values.detach, out);
}

export async function settingsCommand(api: LifeboatApi, rest: string[], out: Output): Promise<number> {
  if (rest[0] === 'set') {
    if (rest[1] !== 'four-eyes' || (rest[2] !== 'on' && rest[2] !== 'off')) throw new UsageError('settings set takes: four-eyes on|off');
    const settings = await api.invoke('settings.set', { fourEyes: rest[2] === 'on' });
    out.print(`four-eyes rule ${settings.fourEyes ? 'on' : 'off'}`, settings);
    return 0;
  }
  const settings = await api.invoke('settings.get', {});
  out.print(
    `four-eyes rule: ${settings.fourEyes ? 'on (original-location restores wait for a second person to approve)' : 'off'}\ncopy policy: ${settings.copyPolicy.toUpperCase()} (\`lifeboat copies policy …\` sets it)`,
    settings,
  );
  return 0;
}

export async function auditCommand(api: LifeboatApi, rest: string[], out: Output): Promise<number> {
  if (rest[0] === 'verify') {
    const check = await api.invoke('audit.verify', {});
    out.print(
      check.intact
        ? `audit log intact: ${check.entries} entries, hash chain verified against its anchors and the restore points`
        : `audit log TAMPERED: ${check.problem}`,
      check,
    );
    return check.intact ? 0 : 1;
  }
  const entries = await api.invoke('audit.list', {});
  out.print(
    table([['AT', 'ACTOR', 'ACTION', 'SUBJECT'], ...entries.map((entry) => [entry.at, entry.actor, entry.action, entry.subject ?? '-'])]),
    entries,
  );
  return 0;
}
