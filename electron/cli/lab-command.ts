// `lifeboat lab create`: demo VMs backed up, in the home. The lab maker is loaded only here.
import type { LifeboatApi } from '../../shared/contract.ts';
import { homePaths } from '../home.ts';
import { positiveInt, UsageError, type Output } from './cli-output.ts';
import type { CliValues } from './options.ts';

export async function labCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output, home: string): Promise<number> {
  if (rest[0] !== 'create') throw new UsageError('lab takes: create');
  // The lab is the home's: its folders sit beside the catalog, whichever engine backs them up.
  const labFolder = homePaths(home).lab;
  const { createLab } = await import('../lab/create-lab.ts');
  const vms = await createLab(
    api,
    labFolder,
    {
      vms: positiveInt(values.vms, 3, '--vms'),
      points: positiveInt(values.points, 3, '--points'),
      diskMib: positiveInt(values['disk-mib'], 64, '--disk-mib'),
    },
    (line) => {
      if (!values.json) process.stderr.write(`${line}\n`);
    },
  );
  out.print(`lab ready in ${labFolder}: ${vms.map((vm) => vm.name).join(', ')}`, vms);
  return 0;
}
