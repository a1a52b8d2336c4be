// `lifeboat backup vsphere:<host>/<vm>` end to end in child processes, as an operator runs it: a
// malformed source is one usage line (exit 2) and starts nothing; a host the catalog does not hold
// is the engine's one clear error; a VM restored to the simulator is backed up over NBD with --json
// and its point restores to what the datastore holds.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeVmFolder, qemuImg, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

type Ran = { status: number; stdout: string; stderr: string };

function lifeboat(home: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, '--home', home, ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) => resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('a malformed vsphere: source is one usage line and starts no job; an unknown host is the engine’s error', async () => {
  const home = join(await tempDir(), 'home');
  const cases: [string[], RegExp][] = [
    [['vsphere:'], /^lifeboat: a vSphere source is vsphere:<host>\/<vm> .*: the host is missing\n$/],
    [['vsphere:/web01'], /^lifeboat: .*: the host is missing\n$/],
    [['vsphere:vc'], /^lifeboat: .*: the VM is missing\n$/],
    [['vsphere:vc/'], /^lifeboat: .*: the VM is missing\n$/],
    [['vsphere:vc/web01', '--transport', 'fast'], /^lifeboat: --transport takes auto, san, hotadd or nbd \(not "fast"\)\n$/],
    [['local:/nowhere', '--quiesce'], /^lifeboat: --transport and --quiesce are for vsphere:<host>\/<vm> sources\n$/],
    [['web01'], /^lifeboat: backup source \(local:<folder> or vsphere:<host>\/<vm>\) must be local:<folder>\n$/],
  ];
  for (const [args, message] of cases) {
    const ran = await lifeboat(home, ['backup', ...args]);
    assert.equal(ran.status, 2, `${args.join(' ')}: ${ran.stderr}`);
    assert.match(ran.stderr, message, args.join(' '));
  }
  const json = await lifeboat(home, ['--json', 'backup', 'vsphere:vc']);
  assert.equal(json.status, 2);
  assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'bad-request');
  const unknown = await lifeboat(home, ['backup', 'vsphere:nohost/web01']);
  assert.equal(unknown.status, 2, unknown.stderr);
  assert.match(unknown.stderr, /^lifeboat: .*nohost/);
  assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
  const jobs = await lifeboat(home, ['--json', 'jobs']);
  assert.deepEqual(JSON.parse(jobs.stdout), [], 'nothing was queued');
});

test(
  'backup vsphere:vc/<vm> --transport nbd --json: the job, and a point that restores to the datastore’s disk',
  { skip: vcsimUnavailable() ?? false },
  async () => {
    const vc = await startVcsim();
    const dir = await tempDir();
    const home = join(dir, 'home');
    const raw = join(dir, 'web.raw');
    await writeMixedRaw(raw, 24);
    await makeVmFolder(dir, 'web', raw, 'monolithicFlat');
    const ok = (ran: Ran, what: string): Ran => {
      assert.equal(ran.status, 0, `${what}: ${ran.stderr}`);
      return ran;
    };
    ok(await lifeboat(home, ['backup', `local:${dir}`]), 'local backup');
    ok(
      await lifeboat(
        home,
        ['hosts', 'add', 'vsphere', '--url', vc.url, '--user', vc.user, '--password-env', 'LB_TEST_VC', '--insecure', '--name', 'vc'],
        {
          LB_TEST_VC: vc.password,
        },
      ),
      'hosts add',
    );
    ok(
      await lifeboat(home, [
        'restore',
        'vm',
        'web',
        '--point',
        'latest',
        '--target',
        'vsphere:vc',
        '--datastore',
        'LocalDS_0',
        '--name',
        'web-vs',
      ]),
      'restore to the simulator',
    );
    const backup = ok(await lifeboat(home, ['--json', 'backup', 'vsphere:vc/web-vs', '--transport', 'nbd']), 'backup from vSphere');
    const job = JSON.parse(backup.stdout) as { kind: string; state: string; vmName: string; summary: string };
    assert.equal(job.kind, 'backup');
    assert.equal(job.state, 'succeeded');
    assert.equal(job.summary, 'Back up web-vs from vSphere vc (nbd)');
    const vms = JSON.parse(ok(await lifeboat(home, ['--json', 'vms']), 'vms').stdout) as { name: string; source: string | null }[];
    assert.equal(vms.find((vm) => vm.name === 'web-vs')?.source, 'vsphere:vc/web-vs');
    const target = join(dir, 'back');
    ok(
      await lifeboat(home, ['restore', 'vm', job.vmName, '--point', 'latest', '--target', `local:${target}`, '--name', 'web-back']),
      'restore',
    );
    const onDatastore = join(vc.datastores.LocalDS_0 as string, 'web-vs', 'web-vs.vmdk');
    assert.match(qemuImg('compare', onDatastore, join(target, 'web-back.vmdk')), /identical/);
  },
);
