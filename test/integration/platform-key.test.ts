// A VM the platform encrypted (vSphere VM encryption: a key safe naming the KMS and key) keeps its
// key references wherever it is restored: the restored .vmx, the OVF and ARM templates, and the
// config spec a vSphere restore creates the VM with (vcsim takes that spec; it does not model
// encryption, so the spec itself is checked too).
import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parseVmx, platformKeyOf } from '../../electron/disks/vmx.ts';
import { placeDisks, vmConfigSpec } from '../../electron/drivers/vsphere/config-spec.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const KEY_SAFE =
  'vmware:key/list/(pair/(fqid/<VMWARE%2dNULL>/kms%2dcluster%2d1/5a1e2c3d%2d0000%2d4000%2d8000%2d0123456789ab,HMAC%2dSHA%2d256,c2VhbGVk))';
const KEY_LINES = `encryption.keySafe = "${KEY_SAFE}"\nencryption.data = "ZW5jcnlwdGVkIGNvbmZpZw=="\n`;

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);
const folder = join(dir, 'vm');
await mkdir(folder);
await writeMixedRaw(join(dir, 'sealed.raw'), 4, 5);
await makeVmFolder(folder, 'sealed', join(dir, 'sealed.raw'), 'monolithicFlat');
await appendFile(join(folder, 'sealed.vmx'), KEY_LINES);
assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');

test('the key safe names the provider and the key', () => {
  const vmx = parseVmx(`displayName = "x"\nscsi0:0.fileName = "x.vmdk"\n${KEY_LINES}`, 'test');
  assert.deepEqual(platformKeyOf(vmx), { providerId: 'kms-cluster-1', keyId: '5a1e2c3d-0000-4000-8000-0123456789ab', keySafe: KEY_SAFE });
  assert.equal(platformKeyOf(parseVmx('displayName = "x"\nscsi0:0.fileName = "x.vmdk"\n', 'test')), null);
});

test('a local restore keeps the key references in the restored .vmx', async () => {
  const path = join(dir, 'local');
  const job = await runJob(engine, await engine.restores.start({ vm: 'sealed', point: 'latest', target: { kind: 'local', path } }, 'test'));
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const vmx = await readFile(join(path, 'sealed.vmx'), 'utf8');
  assert.ok(vmx.includes(`encryption.keySafe = "${KEY_SAFE}"`));
  assert.ok(vmx.includes('encryption.data = "ZW5jcnlwdGVkIGNvbmZpZw=="'));
});

test('the OVF and ARM templates carry the key references', async () => {
  const ovfJob = await runJob(
    engine,
    (
      await api.invoke('restore.disks', {
        vm: 'sealed',
        point: 'latest',
        target: { kind: 'local', path: join(dir, 'ovf') },
        template: 'ovf',
      })
    ).job,
  );
  assert.equal(ovfJob.state, 'succeeded', ovfJob.error ?? '');
  const ovf = await readFile(join(dir, 'ovf', 'sealed.ovf'), 'utf8');
  assert.equal(XMLValidator.validate(ovf), true);
  const parsed = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true }).parse(ovf) as {
    Envelope: { VirtualSystem: { VirtualHardwareSection: { ExtraConfig: Record<string, string> } } };
  };
  assert.deepEqual(parsed.Envelope.VirtualSystem.VirtualHardwareSection.ExtraConfig, {
    '@_required': 'false',
    '@_key': 'encryption.keySafe',
    '@_value': KEY_SAFE,
  });

  const armJob = await runJob(
    engine,
    (
      await api.invoke('restore.disks', {
        vm: 'sealed',
        point: 'latest',
        target: { kind: 'local', path: join(dir, 'arm') },
        template: 'arm',
      })
    ).job,
  );
  assert.equal(armJob.state, 'succeeded', armJob.error ?? '');
  const arm = JSON.parse(await readFile(join(dir, 'arm', 'sealed.json'), 'utf8')) as {
    metadata: { platformKey: unknown };
    parameters: Record<string, unknown>;
    resources: { type: string; properties: { encryption?: unknown } }[];
  };
  assert.deepEqual(arm.metadata.platformKey, { providerId: 'kms-cluster-1', keyId: '5a1e2c3d-0000-4000-8000-0123456789ab' });
  assert.ok('diskEncryptionSetId' in arm.parameters);
  for (const disk of arm.resources.filter((resource) => resource.type === 'Microsoft.Compute/disks')) {
    assert.deepEqual(disk.properties.encryption, {
      type: 'EncryptionAtRestWithCustomerKey',
      diskEncryptionSetId: "[parameters('diskEncryptionSetId')]",
    });
  }
});

test(
  'a vSphere restore creates the VM encrypted with the same key of the same provider',
  { skip: vcsimUnavailable() ?? false },
  async () => {
    const vmx = parseVmx(`displayName = "x"\nscsi0:0.fileName = "x.vmdk"\n${KEY_LINES}`, 'test');
    const spec = vmConfigSpec(vmx, placeDisks([{ key: 'scsi0:0', capacity: 1024 * 1024 }], 'x'), {
      name: 'x',
      datastore: 'ds',
      thin: true,
      network: () => 'VM Network',
      annotation: 'test',
    });
    assert.ok(
      spec.includes(
        '<crypto xsi:type="CryptoSpecEncrypt"><cryptoKeyId><keyId>5a1e2c3d-0000-4000-8000-0123456789ab</keyId><providerId><id>kms-cluster-1</id></providerId></cryptoKeyId></crypto></config>',
      ),
      'crypto comes last, as the WSDL orders it',
    );
    const vc = await startVcsim();
    await api.invoke('hosts.add', { kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true });
    const job = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'sealed', point: 'latest', newName: 'sealed-restored', target: { kind: 'vsphere', host: 'vc' } },
        'test',
      ),
    );
    assert.equal(job.state, 'succeeded', job.error ?? '');
  },
);
