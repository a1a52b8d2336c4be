// `lifeboat restore …` (entire VMs to a folder, vSphere or Azure; disks with a template; from a
// storage snapshot), and `rehearse` / `rehearsals`: restores that are checked, timed and reported.
import { writeFile } from 'node:fs/promises';
import type { LifeboatApi, RequestOf } from '../../shared/contract.ts';
import { formatBytes, table } from '../../shared/format.ts';
import { giveToOperator } from '../fs/private-files.ts';
import { checkedOutFile, keyValuePairs, localPath, runJobCommand, UsageError, type Output } from './cli-output.ts';
import { sourceChoice } from './copy-commands.ts';
import type { CliValues } from './options.ts';
import { restoreTapeCommand } from './tape-commands.ts';

/** --target local:<dir> or vsphere:<host> with its placement flags; the contract checks values. */
function restoreTarget(values: CliValues): RequestOf<'restore.entireVm'>['target'] {
  const target = values.target ?? '';
  if (target.startsWith('vsphere:') && target.length > 'vsphere:'.length) {
    const optional = (key: 'datastore' | 'host-system' | 'network' | 'disk-format' | 'transport' | 'identity', field: string) =>
      values[key] ? { [field]: values[key] } : {};
    return {
      kind: 'vsphere',
      host: target.slice('vsphere:'.length),
      ...optional('datastore', 'datastore'),
      ...optional('host-system', 'hostSystem'),
      ...optional('network', 'network'),
      ...optional('disk-format', 'diskFormat'),
      ...optional('transport', 'transport'),
      ...(values.original ? { original: true, confirmOverwrite: values.yes ?? false } : {}),
      ...(values['disk-datastore']
        ? { diskDatastores: keyValuePairs(values['disk-datastore'], '--disk-datastore', 'DISK=DATASTORE') }
        : {}),
      ...(values['network-map'] ? { networkMap: keyValuePairs(values['network-map'], '--network-map', 'SOURCE=TARGET') } : {}),
      ...optional('identity', 'identity'),
      ...(values['power-on'] ? { powerOn: true } : {}),
    } as RequestOf<'restore.entireVm'>['target'];
  }
  return { kind: 'local', path: localPath(target, '--target (local:<dir> or vsphere:<host>)') };
}

/** --reason TEXT: kept in the audit log and the job's first event. */
function reasonOf(values: CliValues): { reason?: string } {
  return values.reason ? { reason: values.reason } : {};
}

export async function restoreCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (rest[0] === 'tape') return await restoreTapeCommand(api, rest.slice(1), restoreTarget(values), values, out);
  if (rest[0] === 'disks') {
    const template = values.template;
    if (!rest[1] || !values.point || !values.out || (template !== 'ovf' && template !== 'arm'))
      throw new UsageError('restore disks takes: <vm> --point P --out DIR --template ovf|arm');
    const { job } = await api.invoke('restore.disks', {
      vm: rest[1],
      point: values.point,
      target: { kind: 'local', path: values.out },
      template,
      ...reasonOf(values),
      ...(await sourceChoice(values)),
    });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (rest[0] === 'vm' && values.target?.startsWith('azure:')) {
    const [account, container] = values.target.slice('azure:'.length).split('/');
    if (!rest[1] || !values.point || !account || !container)
      throw new UsageError('restore vm <vm> --point P --target azure:<account>/<container>');
    const { job } = await api.invoke('restore.azure', {
      vm: rest[1],
      point: values.point,
      account,
      container,
      ...reasonOf(values),
      ...(await sourceChoice(values)),
    });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (rest[0] === 'vm' && values['from-snapshot']) {
    if (rest.length < 2) throw new UsageError('restore vm <vm>... --from-snapshot <id> --target local:<dir>');
    const { job } = await api.invoke('restore.fromSnapshot', {
      vms: rest.slice(1),
      snapshot: values['from-snapshot'],
      target: restoreTarget(values),
      ...(values.name ? { newName: values.name } : {}),
      ...(values['present-to'] ? { host: values['present-to'] } : {}),
      ...reasonOf(values),
    });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (rest[0] !== 'vm' || !rest[1])
    throw new UsageError('restore takes: vm <vm> --point P --target local:<dir>, or tape <vm>... --point P --target …');
  if (!values.point) throw new UsageError('restore vm needs --point <id|sequence|latest>');
  const request = {
    vm: rest[1],
    point: values.point,
    target: restoreTarget(values),
    ...(values.name ? { newName: values.name } : {}),
    ...reasonOf(values),
    ...(await sourceChoice(values)),
  };
  if (request.target.kind === 'vsphere' && request.target.original && !values.yes) {
    const preview = await api.invoke('restore.previewOriginal', { vm: rest[1], point: values.point, host: request.target.host });
    out.print(
      [
        `An original-location restore of ${preview.vmName} on ${preview.hostSystem} (${preview.powerState}) would:`,
        ...preview.disks.map((disk) => `  replace ${disk.file} (${formatBytes(disk.capacity)}) with ${disk.key} of the point`),
        `  after taking the safety snapshot ${preview.safetySnapshot}, which is kept`,
        'Run again with --yes to do it.',
      ].join('\n'),
      preview,
    );
    return 2;
  }
  const { job } = await api.invoke('restore.entireVm', request);
  return await runJobCommand(api, job, values.detach, out);
}

export async function rehearseCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  if (rest.length === 0) throw new UsageError('rehearse takes: <vm>... --point P --target local:<dir>|vsphere:<host> [--keep]');
  const target = restoreTarget(values);
  const { job } = await api.invoke('rehearsal.start', {
    vms: rest,
    point: values.point ?? 'latest',
    target:
      target.kind === 'local'
        ? target
        : {
            kind: 'vsphere',
            host: target.host,
            ...(target.datastore ? { datastore: target.datastore } : {}),
            ...(target.network ? { network: target.network } : {}),
          },
    keep: values.keep,
  });
  return await runJobCommand(api, job, values.detach, out);
}

export async function rehearsalsCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output, home: string): Promise<number> {
  if (rest[0] === 'report') {
    if (!rest[1] || !values.out) throw new UsageError('rehearsals report takes: <job-id> --out FILE');
    const file = await checkedOutFile(api, home, values.out);
    const { html } = await api.invoke('rehearsal.report', { jobId: rest[1] });
    await writeFile(file, html);
    await giveToOperator(file); // the operator's report, not one of the engine's private files
    out.print(`report written to ${file}`, { path: file });
    return 0;
  }
  const rehearsals = (await api.invoke('jobs.list', {})).filter((job) => job.kind === 'rehearsal');
  const rows = rehearsals.flatMap((job) =>
    ((job.result?.vms as { vm: string; state: string; rtoSeconds: number | null }[] | undefined) ?? []).map((vm) => [
      job.id,
      job.endedAt ?? job.state,
      vm.vm,
      vm.state,
      vm.rtoSeconds === null ? '-' : `${vm.rtoSeconds} s`,
    ]),
  );
  out.print(rehearsals.length === 0 ? 'no rehearsals yet' : table([['JOB', 'ENDED', 'VM', 'RESULT', 'RTO'], ...rows]), rehearsals);
  return 0;
}
