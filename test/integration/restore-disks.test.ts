// Restore disks + template: a two-disk VM's disks restored without a VM, with an OVF descriptor
// (well-formed, the right capacities, every referenced disk read by qemu-img as the source) or an
// ARM template with fixed VHDs (valid footers, whole MiB, qemu-img reads them as the source).
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { parseVhdFooter, vhdSize } from '../../electron/disks/vhd.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import { openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);
const folder = join(dir, 'app');
await mkdir(folder);
// Two disks, the second not a whole MiB (a VHD for Azure is rounded up).
const raws = [join(dir, 'app.raw'), join(dir, 'app_1.raw')];
await writeMixedRaw(raws[0] as string, 6, 2);
await writeMixedRaw(raws[1] as string, 3, 3);
const odd = await open(raws[1] as string, 'r+');
await odd.truncate(3 * MIB - 4096);
await odd.close();
const capacities = [6 * MIB, 3 * MIB - 4096];
qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raws[0] as string, join(folder, 'app.vmdk'));
qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raws[1] as string, join(folder, 'app_1.vmdk'));
await writeFile(join(folder, 'app.vmx'), vmxText('app', ['app.vmdk', 'app_1.vmdk'], '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc 01'));
assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');

test('restore disks with an OVF template: well-formed, the right capacities, every disk it references is the source', async () => {
  const out = join(dir, 'ovf');
  const job = await runJob(
    engine,
    (await api.invoke('restore.disks', { vm: 'app', point: 'latest', target: { kind: 'local', path: out }, template: 'ovf' })).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const text = await readFile(join(out, 'app.ovf'), 'utf8');
  assert.equal(XMLValidator.validate(text), true, 'the OVF descriptor is well-formed XML');
  const ovf = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true }).parse(text) as {
    Envelope: {
      References: { File: Record<string, string>[] };
      DiskSection: { Disk: Record<string, string>[] };
      VirtualSystem: { VirtualHardwareSection: { Item: Record<string, unknown>[] } };
    };
  };
  const files = ovf.Envelope.References.File;
  const disks = ovf.Envelope.DiskSection.Disk;
  assert.deepEqual(
    disks.map((disk) => Number(disk['@_capacity'])),
    capacities,
  );
  for (const [index, disk] of disks.entries()) {
    const file = files.find((candidate) => candidate['@_id'] === disk['@_fileRef']);
    assert.ok(file, `disk ${index} names a file`);
    assert.match(qemuImg('compare', '-f', 'raw', raws[index] as string, join(out, file['@_href'] as string)), /identical/);
  }
  const items = ovf.Envelope.VirtualSystem.VirtualHardwareSection.Item;
  assert.equal(items.filter((item) => Number(item.ResourceType) === 17).length, 2, 'two disks in the hardware');
  assert.ok(!(await readdir(out)).some((name) => name.endsWith('.vmx')), 'no VM, only disks and the template');
});

test('restore disks with an ARM template: fixed VHDs of whole MiB with valid footers, read as the source; the template names them', async () => {
  const out = join(dir, 'arm');
  const job = await runJob(
    engine,
    (await api.invoke('restore.disks', { vm: 'app', point: 'latest', target: { kind: 'local', path: out }, template: 'arm' })).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const template = JSON.parse(await readFile(join(out, 'app.json'), 'utf8')) as {
    parameters: Record<string, { defaultValue?: unknown }>;
    resources: { type: string; properties: { diskSizeGB?: number } }[];
  };
  assert.deepEqual(
    template.resources.map((resource) => resource.type),
    ['Microsoft.Compute/disks', 'Microsoft.Compute/disks', 'Microsoft.Compute/virtualMachines'],
  );
  for (const parameter of ['vmSize', 'availabilitySetId', 'networkInterfaceId', 'osDiskVhdUri', 'dataDisk1VhdUri'])
    assert.ok(parameter in template.parameters, parameter);
  for (const [index, name] of ['app.vhd', 'app_1.vhd'].entries()) {
    const path = join(out, name);
    const bytes = await readFile(path);
    const footer = parseVhdFooter(bytes.subarray(bytes.length - 512));
    assert.equal(footer.currentSize, vhdSize(capacities[index] as number));
    assert.equal(bytes.length, footer.currentSize + 512);
    // qemu reads the size from the footer, as Azure does (our creator id is not one it knows).
    assert.match(
      qemuImg(
        'compare',
        '--image-opts',
        `driver=raw,file.filename=${raws[index] as string}`,
        `driver=vpc,force_size_calc=current_size,file.filename=${path}`,
      ),
      /identical/,
    );
  }
  await assert.rejects(
    api
      .invoke('restore.disks', { vm: 'app', point: 'latest', target: { kind: 'local', path: out }, template: 'arm' })
      .then(({ job: again }) => runJob(engine, again))
      .then((ended) => {
        if (ended.state !== 'succeeded') throw new Error(ended.error ?? '');
      }),
    /not empty/,
  );
});
