// restore.check with local folders: the VMs step names unknown VMs and points, a point of another
// VM, a VM listed twice and two VMs given one name; the target step the folder the job would
// refuse (not empty, a file, inside the home); the summary fills bytes, copy and what is replaced.
// Any request shape gets problems or one bad-request, never another error.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RestoreCheck } from '../../shared/domain.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
for (const name of ['alpha', 'beta']) {
  const source = join(dir, `source-${name}`);
  await mkdir(source);
  await writeMixedRaw(join(dir, `${name}.raw`), 4, name.length);
  await makeVmFolder(source, name, join(dir, `${name}.raw`), 'monolithicSparse');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
}

async function check(request: unknown): Promise<RestoreCheck> {
  return (await dispatch(engine, asOwner(), 'restore.check', request)) as RestoreCheck;
}

function problems(result: RestoreCheck): string[] {
  return result.problems.map((problem) => `${problem.step} ${problem.vm ?? '-'} ${problem.field}: ${problem.message}`);
}

test('restore.check, VMs step: unknown VM and point, a point of another VM, a VM twice, two VMs under one name', async () => {
  const betaPoint = engine.catalog.listPoints(engine.lookup.resolveVm('beta').id)[0]?.id as string;
  const result = await check({
    step: 'vms',
    vms: [
      { vm: 'alpha', point: 'latest', newName: 'same' },
      { vm: 'nobody', point: 'latest' },
      { vm: 'alpha', point: '99' },
      { vm: 'alpha', point: betaPoint },
      { vm: 'beta', point: 'latest', newName: 'same' },
      { vm: 'beta', point: '1' },
    ],
  });
  assert.deepEqual(problems(result), [
    'vms nobody vms.1.vm: no VM "nobody" in the catalog; `lifeboat vms` lists them',
    `vms alpha vms.2.point: VM ${engine.lookup.resolveVm('alpha').id} has no restore point "99"; \`lifeboat points <vm>\` lists them`,
    `vms alpha vms.3.point: point ${betaPoint} is a point of beta, not of alpha`,
    'vms beta vms.4.newName: beta would be restored as "same", the name alpha gets too; give one of them another name',
    'vms beta vms.5.vm: beta is listed twice (as "beta" and "beta")',
  ]);
  assert.deepEqual(
    result.vms.map((vm) => [vm.vmName, vm.name]),
    [
      ['alpha', 'same'],
      ['beta', 'same'],
    ],
  );
  assert.ok(result.vms.every((vm) => vm.disks.length === 1 && (vm.disks[0]?.capacity ?? 0) > 0));
});

test('restore.check, target step: the folder the job would refuse, checked without touching it', async () => {
  const vms = [{ vm: 'alpha', point: 'latest' }];
  const full = join(dir, 'full');
  await mkdir(full);
  await writeFile(join(full, 'keep.txt'), 'the operator’s');
  const notEmpty = await check({ step: 'target', vms, target: { kind: 'local', path: full } });
  assert.deepEqual(problems(notEmpty), [
    `target alpha target.path: target folder ${full} is not empty; restore into a new or empty folder`,
  ]);
  const aFile = await check({ step: 'target', vms, target: { kind: 'local', path: join(full, 'keep.txt') } });
  assert.match(problems(aFile).join('\n'), /target alpha target\.path: target .*keep\.txt is a file, not a folder/);
  const inHome = await check({ step: 'summary', vms, target: { kind: 'local', path: join(dir, 'home', 'x') } });
  assert.match(problems(inHome).join('\n'), /target - target\.path: the restore target .* is inside the engine's home/);
  assert.equal(problems(inHome).length, 1, 'the steps after a refused target do not run');
  // Several VMs go into a folder each below the target: one already there and not empty is named.
  await mkdir(join(dir, 'two', 'beta'), { recursive: true });
  await writeFile(join(dir, 'two', 'beta', 'x'), 'x');
  const two = await check({
    step: 'target',
    vms: [...vms, { vm: 'beta', point: 'latest' }],
    target: { kind: 'local', path: join(dir, 'two') },
  });
  assert.deepEqual(
    two.problems.map((problem) => problem.vm),
    ['beta'],
  );
  const fresh = join(dir, 'fresh', 'below');
  const summary = await check({ step: 'summary', vms, target: { kind: 'local', path: fresh }, reason: 'drill' });
  assert.deepEqual(problems(summary), []);
  const plan = summary.vms[0];
  assert.ok(plan && plan.bytes > 0);
  assert.match(plan.copy, /^primary repository default/);
  assert.deepEqual(plan.replaces, []);
  assert.equal(typeof plan.estimateSeconds === 'number' || plan.estimateSeconds === null, true);
  assert.ok(plan.pointCreatedAt.length > 0);
  await assert.rejects(
    import('node:fs/promises').then((fs) => fs.stat(fresh)),
    { code: 'ENOENT' },
    'a check makes no folder',
  );
});

test('restore.check: a vSphere target needs a known host; a local target refuses vSphere options by name', async () => {
  const vms = [{ vm: 'alpha', point: 'latest' }];
  const noHost = await check({ step: 'target', vms, target: { kind: 'vsphere', host: 'nowhere' } });
  assert.match(problems(noHost).join('\n'), /mode - target\.host: no host "nowhere" in the catalog/);
  await assert.rejects(
    check({ step: 'datastores', vms, target: { kind: 'local', path: join(dir, 'y'), diskDatastores: { 'scsi0:0': 'ds' } } }),
    {
      code: 'bad-request',
      message: /diskDatastores/,
    },
  );
  const noTarget = await check({ step: 'mode', vms });
  assert.deepEqual(problems(noTarget), ['mode - target: choose where to restore to: the original VM, a host or a folder']);
});

test('restore.check fuzz: any request shape gets problems or one bad-request', async () => {
  const name = fc.oneof(fc.constantFrom('alpha', 'beta', 'latest', '1', '__proto__', 'constructor', '../..'), fc.string({ maxLength: 12 }));
  const target = fc.oneof(
    fc.record({ kind: fc.constant('local'), path: fc.oneof(fc.constant(join(dir, 'fuzz')), fc.string({ maxLength: 20 })) }),
    fc.record(
      {
        kind: fc.constant('vsphere'),
        host: name,
        original: fc.boolean(),
        identity: fc.constantFrom('new', 'keep'),
        diskDatastores: fc.dictionary(name, name, { maxKeys: 3 }),
        networkMap: fc.dictionary(name, name, { maxKeys: 3 }),
      },
      { requiredKeys: ['kind', 'host'] },
    ),
    fc.jsonValue(),
  );
  const request = fc.oneof(
    fc.record(
      {
        step: fc.oneof(fc.constantFrom('vms', 'mode', 'target', 'datastores', 'network', 'identity', 'summary'), fc.string()),
        vms: fc.array(
          fc.record({ vm: name, point: name, newName: fc.option(name, { nil: undefined }) }, { requiredKeys: ['vm', 'point'] }),
          {
            maxLength: 4,
          },
        ),
        target,
        reason: fc.string({ maxLength: 600 }),
      },
      { requiredKeys: ['step', 'vms'] },
    ),
    fc.jsonValue(),
  );
  await fc.assert(
    fc.asyncProperty(request, async (payload) => {
      try {
        const result = await check(payload);
        assert.ok(Array.isArray(result.problems) && Array.isArray(result.vms));
      } catch (error) {
        assert.ok(error instanceof LifeboatError && error.code === 'bad-request', `${(error as Error).name}: ${(error as Error).message}`);
      }
    }),
    { numRuns: 300 },
  );
});
