// The restore options from the command line, in child processes as an operator runs them:
// `lifeboat restore vm … --disk-datastore --network-map --identity --power-on --reason` lands the
// VM as asked and keeps the reason; a malformed KEY=VALUE is one usage line and starts nothing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../helpers/serve-process.ts';
import { makeVmFolder, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHostWithCli, startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

type Ran = { status: number; stdout: string; stderr: string };

function lifeboat(home: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test(
  'restore vm with --disk-datastore, --network-map, --identity new, --power-on and --reason',
  { skip: vcsimUnavailable() ?? false },
  async () => {
    const vc = await startVcsim();
    const dir = await tempDir();
    const home = join(dir, 'home');
    const source = join(dir, 'source');
    await mkdir(source);
    await writeMixedRaw(join(dir, 'disk.raw'), 4, 3);
    await makeVmFolder(source, 'echo', join(dir, 'disk.raw'), 'monolithicSparse');
    assert.equal((await lifeboat(home, ['backup', `local:${source}`])).status, 0);
    await addSimulatorHostWithCli(home, vc);

    const malformed = await lifeboat(home, [
      'restore',
      'vm',
      'echo',
      '--point',
      'latest',
      '--target',
      'vsphere:vc',
      '--disk-datastore',
      'scsi0:0',
    ]);
    assert.equal(malformed.status, 2, malformed.stderr);
    assert.equal(malformed.stderr, 'lifeboat: --disk-datastore takes DISK=DATASTORE, not scsi0:0\n');

    const args = ['restore', 'vm', 'echo', '--point', 'latest', '--target', 'vsphere:vc', '--name', 'echo-cli'];
    const options = ['--disk-datastore', 'scsi0:0=LocalDS_1', '--network-map', 'VM Network=VM Network', '--identity', 'new', '--power-on'];
    const ran = await lifeboat(home, ['--json', ...args, ...options, '--reason', 'cli drill']);
    assert.equal(ran.status, 0, ran.stderr);
    const job = JSON.parse(ran.stdout) as { id: string; state: string; result: { disks: string[]; poweredOn: boolean; identity: string } };
    assert.equal(job.state, 'succeeded');
    assert.deepEqual(job.result.disks, ['[LocalDS_1] echo-cli/echo-cli.vmdk']);
    assert.equal(job.result.poweredOn, true);
    assert.equal(job.result.identity, 'new');
    const audit = await lifeboat(home, ['--json', 'audit']);
    assert.match(audit.stdout, /cli drill/);
  },
);
