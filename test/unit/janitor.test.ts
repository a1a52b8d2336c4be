// The janitor's registry: each kind of leftover has exactly one cleaner, a kind without one stops
// the start, and what a run opens for its cleaners (a host session) is shared and released once.
import assert from 'node:assert/strict';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { Janitor, type Cleaner, type JanitorRun } from '../../electron/jobs/janitor.ts';
import { registerFileCleaners } from '../../electron/jobs/file-cleaners.ts';
import { jobRecord } from '../helpers/queue-works.ts';

const cancelledJob = (id: string) => jobRecord({ id, kind: 'restore-disks', state: 'cancelled', summary: 'a job that left things' });
const said: Cleaner = async (resource) => `cleaned ${resource.kind}`;

catalogTest('a kind without a cleaner is named when registration ends; a second cleaner for a kind is refused', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  const janitor = new Janitor(catalog);
  registerFileCleaners(janitor, catalog);
  assert.throws(() => janitor.checkComplete(), /no cleaner for vsphere-vm, vsphere-hot-added-disk, array-clone, vsphere-snapshot/);
  janitor.register('vsphere-vm', said).register('vsphere-hot-added-disk', said).register('array-clone', said);
  janitor.register('vsphere-snapshot', said);
  janitor.checkComplete();
  assert.throws(() => janitor.register('array-clone', said), /already has a cleaner for array-clone/);
});

catalogTest('a run shares what its cleaners open, releases it at its end, and keeps what it could not clean', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  catalog.insertJob(cancelledJob('job-a'), {});
  catalog.recordResource('job-a', 'vsphere-vm', { host: 'vc', name: 'one' });
  catalog.recordResource('job-a', 'vsphere-hot-added-disk', { host: 'vc', proxyVm: 'proxy', path: '[ds] one.vmdk' });
  catalog.recordResource('job-a', 'array-clone', { array: 'gone' });
  const opened = new Map<JanitorRun, string[]>();
  const released: string[] = [];
  const onHost: Cleaner = async (resource, run) => {
    if (!opened.has(run)) {
      opened.set(run, []);
      run.atEnd(async () => void released.push('session'));
    }
    opened.get(run)?.push(resource.kind);
    return `cleaned ${resource.kind}`;
  };
  const janitor = new Janitor(catalog);
  registerFileCleaners(janitor, catalog);
  janitor
    .register('vsphere-vm', onHost)
    .register('vsphere-hot-added-disk', onHost)
    .register('vsphere-snapshot', onHost)
    .register('array-clone', async () => {
      throw new Error('the array does not answer');
    });
  janitor.checkComplete();
  assert.equal(await janitor.run({ keepResumable: true }), 2);
  assert.equal(opened.size, 1, 'one run, one shared session');
  assert.deepEqual(released, ['session']);
  assert.deepEqual(
    catalog.openResources('job-a').map((resource) => resource.kind),
    ['array-clone'],
  );
  const messages = catalog.jobEvents('job-a').map((event) => event.message);
  assert.ok(messages.includes('janitor: cleaned vsphere-vm'));
  assert.ok(
    messages.some((message) => /could not clean up array-clone \(the array does not answer\); will retry at the next start/.test(message)),
  );
});
