// Restore to Azure Storage against Azurite (Microsoft's emulator, from npm) over the real Blob
// API: accounts checked before they are stored; disks uploaded as fixed-VHD page blobs that read
// back identical; an ARM template naming them; a missing container refused; an upload cut off
// by the network resumes on the next run and publishes no half blob.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { parseVhdFooter, vhdSize } from '../../electron/disks/vhd.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import { startAzurite } from '../helpers/azurite.ts';
import { startCuttingProxy } from '../helpers/cutting-proxy.ts';
import { openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const dir = await tempDir();
const azurite = await startAzurite(['primary', 'secondary']);
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);

async function backUp(name: string, mib: number): Promise<string> {
  const folder = join(dir, name);
  await mkdir(folder);
  const raw = join(dir, `${name}.raw`);
  await writeMixedRaw(raw, mib, name.length);
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raw, join(folder, `${name}.vmdk`));
  await writeFile(
    join(folder, `${name}.vmx`),
    vmxText(name, [`${name}.vmdk`], `56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc ${String(mib).padStart(2, '0')}`),
  );
  assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
  return raw;
}

function container(account: string, name: string) {
  return new BlobServiceClient(
    azurite.blobUrl(account),
    new StorageSharedKeyCredential(account, azurite.keys[account] as string),
  ).getContainerClient(name);
}

async function downloaded(account: string, containerName: string, blob: string): Promise<string> {
  const path = join(dir, `${blob.replaceAll('/', '_')}`);
  await container(account, containerName).getBlobClient(blob).downloadToFile(path);
  return path;
}

const webRaw = await backUp('web', 6);

test('Azure accounts: a wrong key and an unreachable endpoint are refused before anything is stored', async () => {
  await assert.rejects(
    api.invoke('azure.add', { blobUrl: azurite.blobUrl('primary'), accountName: 'primary', key: Buffer.from('wrong').toString('base64') }),
    { code: 'unauthorized', message: /wrong account name or key/ },
  );
  await assert.rejects(
    api.invoke('azure.add', { blobUrl: 'http://127.0.0.1:9/primary', accountName: 'primary', key: azurite.keys.primary as string }),
    { code: 'unavailable' },
  );
  assert.deepEqual(await api.invoke('azure.list', {}), []);
  const account = await api.invoke('azure.add', {
    name: 'prod',
    blobUrl: azurite.blobUrl('primary'),
    accountName: 'primary',
    key: azurite.keys.primary as string,
  });
  assert.equal(account.name, 'prod');
  const catalogText = await readFile(join(engine.paths.home, 'catalog.sqlite'));
  assert.ok(!catalogText.includes(Buffer.from(azurite.keys.primary as string)), 'the key is not in the catalog');
});

test('restore to Azure Storage: page blobs that read back as the source, an ARM template naming them; a missing container refused', async () => {
  const missing = await runJob(
    engine,
    (await api.invoke('restore.azure', { vm: 'web', point: 'latest', account: 'prod', container: 'no-such-container' })).job,
  );
  assert.equal(missing.state, 'failed');
  assert.match(missing.error ?? '', /container no-such-container of account primary: the container does not exist/);
  await container('primary', 'restores').create();
  const job = await runJob(
    engine,
    (await api.invoke('restore.azure', { vm: 'web', point: 'latest', account: 'prod', container: 'restores' })).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const names: string[] = [];
  for await (const blob of container('primary', 'restores').listBlobsFlat()) names.push(blob.name);
  assert.deepEqual(names.sort(), ['web/point-1/web-template.json', 'web/point-1/web.vhd']);
  const vhd = await downloaded('primary', 'restores', 'web/point-1/web.vhd');
  const bytes = await readFile(vhd);
  assert.equal(parseVhdFooter(bytes.subarray(bytes.length - 512)).currentSize, vhdSize(6 * MIB));
  assert.match(
    qemuImg(
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${webRaw}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${vhd}`,
    ),
    /identical/,
  );
  const uploads = job.result?.uploads as { emptyBytes: number; sentBytes: number }[];
  assert.ok((uploads[0]?.emptyBytes ?? 0) > 0, 'empty ranges were not sent');
  const template = JSON.parse(await readFile(await downloaded('primary', 'restores', 'web/point-1/web-template.json'), 'utf8')) as {
    parameters: { osDiskVhdUri: { defaultValue: string } };
  };
  assert.equal(template.parameters.osDiskVhdUri.defaultValue, `${azurite.blobUrl('primary')}/restores/web/point-1/web.vhd`);
});

test('an upload cut off by the network fails clearly, leaves no blob under its name, and resumes on the next run', async () => {
  const bigRaw = await backUp('big', 48);
  // The same account, reached through a proxy that cuts the connection 12 MiB into the upload.
  const proxy = await startCuttingProxy(azurite.port);
  await api.invoke('azure.add', {
    name: 'flaky',
    blobUrl: `http://127.0.0.1:${proxy.port}/primary`,
    accountName: 'primary',
    key: azurite.keys.primary as string,
  });
  await container('primary', 'resumes').create();
  proxy.cutAfter(12 * MIB);
  const cut = await runJob(
    engine,
    (await api.invoke('restore.azure', { vm: 'big', point: 'latest', account: 'flaky', container: 'resumes' })).job,
  );
  assert.ok(proxy.cut, 'the network was cut');
  assert.equal(cut.state, 'failed');
  assert.match(cut.error ?? '', /Azure Storage/);
  const names: string[] = [];
  for await (const blob of container('primary', 'resumes').listBlobsFlat()) names.push(blob.name);
  assert.deepEqual(names, ['big/point-1/big.vhd.partial'], 'only the unpublished partial upload is there');
  proxy.heal();
  const resumed = await runJob(
    engine,
    (await api.invoke('restore.azure', { vm: 'big', point: 'latest', account: 'flaky', container: 'resumes' })).job,
  );
  assert.equal(resumed.state, 'succeeded', resumed.error ?? '');
  assert.ok(
    ((resumed.result?.uploads as { resumedBytes: number }[])[0]?.resumedBytes ?? 0) > 0,
    "the second run resumed the first one's upload",
  );
  const vhd = await downloaded('primary', 'resumes', 'big/point-1/big.vhd');
  assert.match(
    qemuImg(
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${bigRaw}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${vhd}`,
    ),
    /identical/,
  );
});

test("cross-region restore: the disks restored from the secondary region's copy into the secondary region's storage account", async () => {
  await api.invoke('azure.add', {
    name: 'dr',
    blobUrl: azurite.blobUrl('secondary'),
    accountName: 'secondary',
    key: azurite.keys.secondary as string,
  });
  for (const [name, region, zone] of [
    ['near', 'primary', 'zone-2'],
    ['zoned', 'primary', 'zone-3'],
    ['paired', 'secondary', 'zone-1'],
  ] as const) {
    await api.invoke('repos.add', { name, path: join(dir, 'copies', name), region, zone });
  }
  await api.invoke('settings.set', { copyPolicy: 'grs' });
  assert.equal((await runJob(engine, (await api.invoke('copies.run', { vms: ['web'] })).job)).state, 'succeeded');
  await container('secondary', 'dr-restores').create();
  const job = await runJob(
    engine,
    (await api.invoke('restore.azure', { vm: 'web', point: 'latest', account: 'dr', container: 'dr-restores', fromRegion: 'secondary' }))
      .job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(job.result?.source, { repository: 'paired', region: 'secondary', zone: 'zone-1', tier: 'vault' });
  const vhd = await downloaded('secondary', 'dr-restores', 'web/point-1/web.vhd');
  assert.match(
    qemuImg(
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${webRaw}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${vhd}`,
    ),
    /identical/,
  );
});
