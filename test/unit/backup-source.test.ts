// `lifeboat backup`'s source argument and the 'backup.start' contract: a local folder or a vSphere
// VM; a malformed vsphere: argument is one usage error naming the missing part, never a request.
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { backupSource } from '../../electron/cli/backup-source.ts';
import { parseCommandLine } from '../../electron/cli/options.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { requestChannels } from '../../shared/contract.ts';

const request = requestChannels['backup.start'].request;

test('vsphere:<host>/<vm> with its flags becomes a vsphere source (transport auto, no quiesce by default)', () => {
  assert.deepEqual(backupSource('vsphere:vc/web01', {}), { kind: 'vsphere', host: 'vc', vm: 'web01', transport: 'auto', quiesce: false });
  assert.deepEqual(backupSource('vsphere:vc.example.com/db 01', { transport: 'hotadd', quiesce: true }), {
    kind: 'vsphere',
    host: 'vc.example.com',
    vm: 'db 01',
    transport: 'hotadd',
    quiesce: true,
  });
  // The host name has no slash; the rest, slashes included, is the VM's name.
  assert.equal((backupSource('vsphere:vc/a/b', {}) as { vm: string }).vm, 'a/b');
});

test('the command line passes --transport and --quiesce through', () => {
  const { values, positionals } = parseCommandLine(['backup', 'vsphere:vc/web01', '--transport', 'nbd', '--quiesce']);
  assert.deepEqual(backupSource(positionals[1], { transport: values.transport, quiesce: values.quiesce }), {
    kind: 'vsphere',
    host: 'vc',
    vm: 'web01',
    transport: 'nbd',
    quiesce: true,
  });
});

test('local:<folder> stays what it was', () => {
  assert.deepEqual(backupSource('local:vm-folder', { quiesce: false }), { kind: 'local', path: resolve('vm-folder') });
});

test('a malformed source is one usage error that says what is wrong', () => {
  const refused = (argument: string | undefined, flags = {}, message: RegExp) =>
    assert.throws(
      () => backupSource(argument, flags),
      (error: unknown) => error instanceof LifeboatError && error.code === 'bad-request' && message.test(error.message),
      String(argument),
    );
  refused('vsphere:', {}, /vsphere:<host>\/<vm>.*the host is missing/);
  refused('vsphere:/web01', {}, /the host is missing/);
  refused('vsphere:vc', {}, /the VM is missing/);
  refused('vsphere:vc/', {}, /the VM is missing/);
  refused('vsphere:vc/  ', {}, /the VM is missing/);
  refused('vsphere:vc/web01', { transport: 'fast' }, /--transport takes auto, san, hotadd or nbd \(not "fast"\)/);
  refused('local:folder', { transport: 'nbd' }, /--transport and --quiesce are for vsphere:/);
  refused('local:folder', { quiesce: true }, /--transport and --quiesce are for vsphere:/);
  refused('web01', {}, /local:<folder> or vsphere:<host>\/<vm>/);
  refused(undefined, {}, /local:<folder> or vsphere:<host>\/<vm>/);
});

test('any argument: a source the contract accepts, or one usage error', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string().map((text) => `vsphere:${text}`),
      ),
      fc.option(fc.constantFrom('auto', 'san', 'hotadd', 'nbd', 'x', ''), { nil: undefined }),
      fc.boolean(),
      (argument, transport, quiesce) => {
        try {
          const source = backupSource(argument, { transport, quiesce });
          if (source.kind === 'vsphere' && (source.host.length > 200 || source.vm.length > 200)) return; // the contract's limit
          assert.ok(request.safeParse({ source }).success, JSON.stringify(source));
        } catch (error) {
          assert.ok(error instanceof LifeboatError && error.code === 'bad-request', String(error));
        }
      },
    ),
  );
});

test("the contract: 'backup.start' takes a local folder or a vSphere VM, with defaults", () => {
  assert.deepEqual(request.parse({ source: { kind: 'vsphere', host: 'vc', vm: 'web01' } }).source, {
    kind: 'vsphere',
    host: 'vc',
    vm: 'web01',
    transport: 'auto',
    quiesce: false,
  });
  assert.deepEqual(request.parse({ source: { kind: 'local', path: '/vms/web01' } }).source, { kind: 'local', path: '/vms/web01' });
  const refuses = (source: unknown) => assert.equal(request.safeParse({ source }).success, false, JSON.stringify(source));
  refuses({ kind: 'vsphere', host: '', vm: 'web01' });
  refuses({ kind: 'vsphere', host: 'vc', vm: '' });
  refuses({ kind: 'vsphere', host: 'vc' });
  refuses({ kind: 'vsphere', host: 'h'.repeat(201), vm: 'web01' });
  refuses({ kind: 'vsphere', host: 'vc', vm: 'v'.repeat(201) });
  refuses({ kind: 'vsphere', host: 'vc', vm: 'web01', transport: 'fast' });
  refuses({ kind: 'vsphere', host: 'vc', vm: 'web01', quiesce: 'yes' });
  refuses({ kind: 'vsphere', host: 'vc', vm: 'web01', path: '/vms' }); // strict: no stray fields
  refuses({ kind: 'local', path: '/vms', transport: 'nbd' });
  refuses({ kind: 'azure', path: '/vms' });
});
