// A VM's configuration read from property-collector answers (vm-config.ts): a real-shaped answer
// gives the disks, controllers and NICs and a .vmx that parseVmx and vmConfigSpec read back;
// hostile names and paths survive or are made safe; damaged answers, as XML text or as parsed
// trees, give a configuration or one LifeboatError, never another exception.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { parseVmx, platformKeyOf } from '../../electron/disks/vmx.ts';
import { placeDisks, vmConfigSpec } from '../../electron/drivers/vsphere/config-spec.ts';
import { interpretResponse } from '../../electron/drivers/vsphere/soap-client.ts';
import { snapshotBlocker, vmConfigOf, type VmAnswers, type VsphereVmConfig } from '../../electron/drivers/vsphere/vm-config.ts';
import { asArray, textOf } from '../../electron/drivers/vsphere/xml.ts';

const runs = { numRuns: 300 };
const vmRef = { type: 'VirtualMachine', value: 'vm-42' };

const device = (type: string, inner: string): string => `<device xsi:type="${type}">${inner}</device>`;
const disk = (key: number, controller: number, unit: number, backing: string, capacity: string): string =>
  device(
    'VirtualDisk',
    `<key>${key}</key>${backing}<controllerKey>${controller}</controllerKey><unitNumber>${unit}</unitNumber>${capacity}`,
  );

/** A RetrievePropertiesEx answer shaped like vcsim's and ESXi's: every controller kind we map,
 * flat, sparse and RDM disks (two with the same base name), NICs on a port group and on a
 * distributed switch, an encryption key, CBT on, and a snapshot tree of three. */
const answerXml =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
  '<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-42</obj>' +
  '<propSet><name>config</name><val xsi:type="VirtualMachineConfigInfo"><name>web01 &quot;prod&quot; | #1</name><version>vmx-19</version>' +
  '<uuid>4210c2f4-8d1e-7f2a-3b4c-5d6e7f8a9b0c</uuid><guestId>debian12_64Guest</guestId>' +
  '<files><vmPathName>[ds1] web01/web01.vmx</vmPathName></files><changeTrackingEnabled>true</changeTrackingEnabled><firmware>efi</firmware>' +
  '<hardware><numCPU>4</numCPU><numCoresPerSocket>2</numCoresPerSocket><memoryMB>8192</memoryMB>' +
  device('VirtualIDEController', '<key>200</key><busNumber>0</busNumber>') +
  device('ParaVirtualSCSIController', '<key>1000</key><busNumber>0</busNumber><sharedBus>noSharing</sharedBus>') +
  device('VirtualLsiLogicSASController', '<key>1001</key><busNumber>1</busNumber><sharedBus>noSharing</sharedBus>') +
  device('VirtualAHCIController', '<key>15000</key><busNumber>0</busNumber>') +
  device('VirtualNVMEController', '<key>31000</key><busNumber>0</busNumber>') +
  disk(
    2000,
    1000,
    0,
    '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] web01/web01.vmdk</fileName><diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned><changeId>52 de 9a 1b/17</changeId></backing>',
    '<capacityInKB>16777216</capacityInKB><capacityInBytes>17179869184</capacityInBytes>',
  ) +
  disk(
    2001,
    1000,
    1,
    '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds2] web01/web01.vmdk</fileName><diskMode>persistent</diskMode><thinProvisioned>false</thinProvisioned></backing>',
    '<capacityInKB>1048576</capacityInKB>',
  ) +
  disk(
    2016,
    1001,
    0,
    '<backing xsi:type="VirtualDiskRawDiskMappingVer1BackingInfo"><fileName>[ds1] web01/web01_2-rdm.vmdk</fileName><compatibilityMode>virtualMode</compatibilityMode><diskMode>persistent</diskMode></backing>',
    '<capacityInBytes>10737418240</capacityInBytes>',
  ) +
  disk(
    16000,
    15000,
    3,
    '<backing xsi:type="VirtualDiskSeSparseBackingInfo"><fileName>[ds1] web01/data.vmdk</fileName><diskMode>persistent</diskMode></backing>',
    '<capacityInBytes>2147483648</capacityInBytes>',
  ) +
  disk(
    31001,
    31000,
    0,
    '<backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[ds1] web01/logs.vmdk</fileName><diskMode>persistent</diskMode></backing>',
    '<capacityInBytes>1073741824</capacityInBytes>',
  ) +
  device(
    'VirtualVmxnet3',
    '<key>4000</key><backing xsi:type="VirtualEthernetCardNetworkBackingInfo"><deviceName>VM Network</deviceName></backing>' +
      '<connectable><startConnected>true</startConnected></connectable><addressType>manual</addressType><macAddress>00:50:56:aa:bb:cc</macAddress>',
  ) +
  device(
    'VirtualE1000e',
    '<key>4001</key><backing xsi:type="VirtualEthernetCardDistributedVirtualPortBackingInfo"><port><switchUuid>50 1e</switchUuid><portgroupKey>dvportgroup-13</portgroupKey></port></backing>' +
      '<connectable><startConnected>false</startConnected></connectable><addressType>generated</addressType><macAddress>00:0c:29:36:63:62</macAddress>',
  ) +
  '</hardware><keyId><keyId>8a3f0c2e-1b2d-4e5f-9a8b-7c6d5e4f3a2b</keyId><providerId><id>kms-cluster</id></providerId></keyId></val></propSet>' +
  '<propSet><name>snapshot</name><val xsi:type="VirtualMachineSnapshotInfo"><currentSnapshot type="VirtualMachineSnapshot">snapshot-3</currentSnapshot>' +
  '<rootSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-1</snapshot><name>a</name><childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-2</snapshot><name>b</name>' +
  '<childSnapshotList><snapshot type="VirtualMachineSnapshot">snapshot-3</snapshot><name>c</name></childSnapshotList></childSnapshotList></rootSnapshotList></val></propSet>' +
  '<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>' +
  '</objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>';

const networkNames = new Map([['dvportgroup-13', 'DC0_DVPG0']]);

/** The answer's properties as VsphereClient.retrieve hands them on: name → parsed value. */
function propsOf(envelope: string): Record<string, unknown> {
  const returned = interpretResponse('https://vc.test', 'RetrievePropertiesEx', 200, envelope) as Record<string, unknown> | undefined;
  const props: Record<string, unknown> = {};
  const [object] = asArray(returned?.objects as Record<string, unknown>[]);
  for (const prop of asArray(object?.propSet as { name: unknown; val: unknown }[])) props[textOf(prop?.name)] = prop?.val;
  return props;
}

function answersOf(props: Record<string, unknown>): VmAnswers {
  return {
    ref: vmRef,
    config: props.config,
    snapshot: props.snapshot,
    powerState: props['runtime.powerState'],
    datacenter: 'DC0',
    networkNames,
  };
}

/** What every configuration must be: a .vmx parseVmx reads back to the same name, uuid and
 * disks, and safe, unique disk file names. */
function checkConfig(config: VsphereVmConfig): void {
  const vmx = parseVmx(config.vmxText, 'vmx');
  assert.equal(vmx.displayName, config.name);
  assert.equal(vmx.uuid, config.uuid);
  assert.deepEqual(
    vmx.disks,
    config.disks.map((disk) => ({ key: disk.key, fileName: disk.fileName })),
  );
  const names = [config.vmxFile, ...config.disks.map((disk) => disk.fileName)];
  for (const name of names) assert.ok(!name.includes('/') && !name.includes('\\') && !name.includes('..') && name.length > 0, name);
  assert.equal(new Set(names.map((name) => name.toLowerCase())).size, names.length, `unique: ${names.join(', ')}`);
}

/** Characters that break naive .vmx writers and readers, mixed with any other character. */
const hostileUnit = fc.oneof(
  fc.constantFrom('"', '|', '|22', '#', '=', '\n', '\r', '\t', '\0', ' ', '\\', '/', '..', '\uFEFF', '\u2028', 'é', '😀', '%2f'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);

const outcomes = { read: 0, refused: 0 };
/** Runs `read`: it returns a configuration (checked) or throws our own clear error. */
function configOrOurError(read: () => VsphereVmConfig): void {
  let config: VsphereVmConfig;
  try {
    config = read();
  } catch (error) {
    outcomes.refused++;
    assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(error.message.length > 10);
    return;
  }
  outcomes.read++;
  checkConfig(config);
}
after(() => console.log(`vm-config fuzz: ${outcomes.read} answers read, ${outcomes.refused} refused with a clear error`));

test('a real-shaped answer: disks, controllers, NICs, encryption; the .vmx reads back and becomes the right ConfigSpec', () => {
  const config = vmConfigOf(answersOf(propsOf(answerXml)));
  checkConfig(config);
  assert.equal(config.name, 'web01 "prod" | #1');
  assert.equal(config.vmxFile, 'web01.vmx');
  assert.equal(config.snapshotCount, 3);
  assert.equal(config.changeTracking, true);
  assert.equal(config.encryptionKeyId, '8a3f0c2e-1b2d-4e5f-9a8b-7c6d5e4f3a2b');
  assert.equal(config.powerState, 'poweredOn');
  assert.deepEqual(
    config.disks.map(({ key, deviceKey, datastore, path, fileName, capacity, thin, changeId, rdm }) => [
      key,
      deviceKey,
      datastore,
      path,
      fileName,
      capacity,
      thin,
      changeId,
      rdm,
    ]),
    [
      ['scsi0:0', 2000, 'ds1', 'web01/web01.vmdk', 'web01.vmdk', 17179869184, true, '52 de 9a 1b/17', null],
      ['scsi0:1', 2001, 'ds2', 'web01/web01.vmdk', 'web01_1.vmdk', 1073741824, false, null, null],
      ['scsi1:0', 2016, 'ds1', 'web01/web01_2-rdm.vmdk', 'web01_2-rdm.vmdk', 10737418240, false, null, 'virtual'],
      ['sata0:3', 16000, 'ds1', 'web01/data.vmdk', 'data.vmdk', 2147483648, false, null, null],
      ['nvme0:0', 31001, 'ds1', 'web01/logs.vmdk', 'logs.vmdk', 1073741824, false, null, null],
    ],
  );
  assert.equal(snapshotBlocker(config), null);

  const vmx = parseVmx(config.vmxText, 'vmx');
  assert.deepEqual(platformKeyOf(vmx)?.keyId, '8a3f0c2e-1b2d-4e5f-9a8b-7c6d5e4f3a2b');
  assert.equal(platformKeyOf(vmx)?.providerId, 'kms-cluster');
  const placements = placeDisks(
    config.disks.map((each) => ({ key: each.key, capacity: each.capacity })),
    'copy',
  );
  const spec = vmConfigSpec(vmx, placements, {
    name: 'copy',
    datastore: 'ds9',
    thin: true,
    network: (original) => `mapped:${original ?? ''}`,
    annotation: 'note',
  });
  for (const expected of [
    '<guestId>debian12_64Guest</guestId>',
    '<numCPUs>4</numCPUs>',
    '<memoryMB>8192</memoryMB>',
    'xsi:type="ParaVirtualSCSIController"',
    'xsi:type="VirtualLsiLogicSASController"',
    'xsi:type="VirtualVmxnet3"',
    'xsi:type="VirtualE1000e"',
    '<deviceName>mapped:VM Network</deviceName>',
    '<deviceName>mapped:DC0_DVPG0</deviceName>',
    '<keyId>8a3f0c2e-1b2d-4e5f-9a8b-7c6d5e4f3a2b</keyId>',
    '<capacityInKB>16777216</capacityInKB>',
    '<firmware>efi</firmware>',
  ])
    assert.ok(spec.includes(expected), `ConfigSpec has ${expected}`);
  assert.match(config.vmxText, /^ethernet0\.address = "00:50:56:aa:bb:cc"$/m);
  assert.match(config.vmxText, /^ethernet1\.generatedAddress = "00:0c:29:36:63:62"$/m);
  assert.match(config.vmxText, /^ethernet1\.startConnected = "FALSE"$/m);
  assert.match(config.vmxText, /^firmware = "efi"$/m);
});

test('snapshotBlocker: an independent disk, a physical-mode RDM, 31 snapshots; 30 are fine', () => {
  const blockerOf = (edit: (xml: string) => string): string | null => snapshotBlocker(vmConfigOf(answersOf(propsOf(edit(answerXml)))));
  assert.match(
    blockerOf((xml) =>
      xml.replace(
        '<fileName>[ds1] web01/data.vmdk</fileName><diskMode>persistent',
        '<fileName>[ds1] web01/data.vmdk</fileName><diskMode>independent_persistent',
      ),
    ) ?? '',
    /disk sata0:3 \(\[ds1\] web01\/data\.vmdk\) of VM "web01 "prod" \| #1" is independent_persistent/,
  );
  assert.match(blockerOf((xml) => xml.replace('virtualMode', 'physicalMode')) ?? '', /disk scsi1:0 .* is a physical-mode RDM/);
  const chain = (count: number): string => {
    let tree = '';
    for (let n = count; n >= 1; n--)
      tree = `<snapshot type="VirtualMachineSnapshot">snapshot-${n}</snapshot><name>s${n}</name>${tree ? `<childSnapshotList>${tree}</childSnapshotList>` : ''}`;
    return tree;
  };
  const withSnapshots = (count: number) => (xml: string) =>
    xml.replace(/<rootSnapshotList>.*<\/rootSnapshotList>/, `<rootSnapshotList>${chain(count)}</rootSnapshotList>`);
  assert.match(blockerOf(withSnapshots(31)) ?? '', /already has 31 snapshots/);
  assert.equal(blockerOf(withSnapshots(30)), null);
});

test('hostile VM and network names round-trip through the .vmx; the ConfigSpec maps the network name', () => {
  const props = propsOf(answerXml);
  const config = props.config as Record<string, unknown>;
  const hardware = config.hardware as Record<string, unknown>;
  const devices = hardware.device as Record<string, unknown>[];
  fc.assert(
    fc.property(
      fc.string({ unit: hostileUnit, minLength: 1, maxLength: 40 }),
      fc.string({ unit: hostileUnit, minLength: 1, maxLength: 40 }),
      (name, network) => {
        const nic = { ...devices.find((each) => each['@_type'] === 'VirtualVmxnet3'), backing: { deviceName: network } };
        const answers = answersOf({
          ...props,
          config: {
            ...config,
            name,
            hardware: { ...hardware, device: [...devices.filter((each) => each['@_type'] !== 'VirtualVmxnet3'), nic] },
          },
        });
        const read = vmConfigOf(answers);
        checkConfig(read);
        assert.equal(parseVmx(read.vmxText, 'vmx').displayName, name);
        const vmx = parseVmx(read.vmxText, 'vmx');
        const seen: (string | undefined)[] = [];
        vmConfigSpec(vmx, placeDisks(read.disks, 'copy'), {
          name: 'copy',
          datastore: 'ds',
          thin: true,
          network: (original) => {
            seen.push(original);
            return 'net';
          },
          annotation: '',
        });
        assert.ok(seen.includes(network), `network ${JSON.stringify(network)} reached the ConfigSpec`);
      },
    ),
    runs,
  );
});

test('hostile disk paths: unique safe file names that parseVmx reads back', () => {
  const props = propsOf(answerXml);
  const config = props.config as Record<string, unknown>;
  const hardware = config.hardware as Record<string, unknown>;
  const controllers = (hardware.device as Record<string, unknown>[]).filter((each) => each['@_type'] !== 'VirtualDisk');
  const pathStep = fc.oneof(
    fc.string({ unit: hostileUnit, minLength: 1, maxLength: 30 }),
    fc.constantFrom('a.vmdk', 'A.VMDK', '..vmdk', '...', ' .vmdk', 'x.iso', 'c:\\d.vmdk', 'a|7C.vmdk', '#.vmdk', '.vmx'),
  );
  fc.assert(
    fc.property(fc.array(fc.array(pathStep, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }), (paths) => {
      const disks = paths.map((steps, unit) => ({
        '@_type': 'VirtualDisk',
        key: String(2000 + unit),
        controllerKey: '1000',
        unitNumber: String(unit),
        capacityInKB: '1024',
        backing: { '@_type': 'VirtualDiskFlatVer2BackingInfo', fileName: `[ds${unit % 2}] ${steps.join('/')}`, diskMode: 'persistent' },
      }));
      configOrOurError(() =>
        vmConfigOf(answersOf({ ...props, config: { ...config, hardware: { ...hardware, device: [...controllers, ...disks] } } })),
      );
    }),
    runs,
  );
});

test('the device list in any order (hosts list an edited disk last): the same disks, in the same order, with the same names', () => {
  const props = propsOf(answerXml);
  const config = props.config as Record<string, unknown>;
  const hardware = config.hardware as Record<string, unknown>;
  const devices = hardware.device as Record<string, unknown>[];
  const disksOf = (listed: Record<string, unknown>[]) =>
    vmConfigOf(answersOf({ ...props, config: { ...config, hardware: { ...hardware, device: listed } } })).disks.map(
      (each) => `${each.key}=${each.fileName}`,
    );
  const asListed = disksOf(devices);
  // Two disks named web01.vmdk (on ds1 and ds2): which one gets the suffix must not depend on the order.
  assert.deepEqual(asListed.slice(0, 2), ['scsi0:0=web01.vmdk', 'scsi0:1=web01_1.vmdk']);
  fc.assert(
    fc.property(fc.shuffledSubarray(devices, { minLength: devices.length, maxLength: devices.length }), (shuffled) => {
      assert.deepEqual(disksOf(shuffled), asListed);
    }),
    runs,
  );
});

test('damaged answer text: a configuration or one clear error', () => {
  const damage = fc.array(
    fc.tuple(
      fc.nat(answerXml.length - 1),
      fc.nat(12),
      fc.constantFrom('', '<', '>', '/', '"', '&', ']', '[', '0', '-1', 'x', '<device>', '</hardware>', '99999999999999999'),
    ),
    { minLength: 1, maxLength: 6 },
  );
  fc.assert(
    fc.property(damage, (edits) => {
      let text = answerXml;
      for (const [at, cut, insert] of edits) text = text.slice(0, at) + insert + text.slice(at + cut);
      configOrOurError(() => vmConfigOf(answersOf(propsOf(text))));
    }),
    runs,
  );
});

/** A parsed-XML tree as fast-xml-parser builds it: strings, arrays and plain objects with the keys
 * vSphere uses, so damage lands where the reader looks. */
const vocabulary = fc.constantFrom(
  'name',
  'hardware',
  'device',
  'VirtualDevice',
  'key',
  'controllerKey',
  'unitNumber',
  'busNumber',
  'backing',
  'fileName',
  'diskMode',
  'capacityInKB',
  'capacityInBytes',
  'compatibilityMode',
  'changeId',
  '@_type',
  '#text',
  'port',
  'portgroupKey',
  'deviceName',
  'macAddress',
  'keyId',
  'providerId',
  'id',
  'files',
  'vmPathName',
  'rootSnapshotList',
  'childSnapshotList',
  'numCPU',
  'memoryMB',
);
const tree = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.constantFrom('VirtualDisk', 'ParaVirtualSCSIController', 'VirtualVmxnet3', '[ds] a/b.vmdk', '0', '1000', 'physicalMode'),
    ),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(vocabulary, tie('node'), { maxKeys: 5, noNullPrototype: true }),
  ),
})).node;

test('damaged answer trees: any value at any place gives a configuration or one clear error', () => {
  const props = propsOf(answerXml);
  /** The answer with the value at `path` (keys and indexes, wrapping around) replaced. */
  function replaced(value: unknown, path: number[], replacement: unknown): unknown {
    if (path.length === 0) return replacement;
    const [step, ...rest] = path as [number, ...number[]];
    if (Array.isArray(value) && value.length > 0) {
      const copy = [...value];
      copy[step % copy.length] = replaced(copy[step % copy.length], rest, replacement);
      return copy;
    }
    if (value && typeof value === 'object' && Object.keys(value).length > 0) {
      const keys = Object.keys(value);
      const key = keys[step % keys.length] as string;
      return { ...value, [key]: replaced((value as Record<string, unknown>)[key], rest, replacement) };
    }
    return replacement;
  }
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.array(fc.nat(40), { maxLength: 7 }), tree), { minLength: 1, maxLength: 4 }), (edits) => {
      let damaged: unknown = props;
      for (const [path, value] of edits) damaged = replaced(damaged, path, value);
      configOrOurError(() => vmConfigOf(answersOf(damaged as Record<string, unknown>)));
    }),
    runs,
  );
  fc.assert(
    fc.property(tree, tree, (config, snapshot) => configOrOurError(() => vmConfigOf({ ...answersOf(props), config, snapshot }))),
    runs,
  );
});
