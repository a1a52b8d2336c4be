// Changed Block Tracking against govmomi's simulator. vcsim has no CBT (it does not report
// capability.changeTrackingSupported and has no QueryChangedDiskAreas): enabling it gives false
// and asking for changed areas a fallback naming the fault. Through the fault proxy a host that
// offers CBT is played where vcsim cannot: its capability, its refusals (CBT reset) and its
// answers, which become the mask they say. A dropped connection is an error, not a fallback.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changedBlocksSince, enableChangeTracking } from '../../electron/drivers/vsphere/changed-areas.ts';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { el, moRefOf, textOf, type MoRef } from '../../electron/drivers/vsphere/xml.ts';
import { startCuttingProxy } from '../helpers/cutting-proxy.ts';
import { offersChangeTracking, soapAnswer } from '../helpers/cbt-host.ts';
import { startFaultProxy, type FaultRule } from '../helpers/fault-proxy.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const unavailable = vcsimUnavailable();
const MIB = 1024 * 1024;
const PREVIOUS_CHANGE_ID = '52 de c0 d9 98 32 ed 02-ef 1a ff 44 a6 fd 21 37/25';
const CURRENT_CHANGE_ID = '52 de c0 d9 98 32 ed 02-ef 1a ff 44 a6 fd 21 37/31';

/** Every SOAP method the client sends, in order (the proxy forwards them unchanged). */
function methodsSeen(into: string[]): FaultRule {
  return {
    rewrite: (method, body) => {
      into.push(method);
      return body;
    },
  };
}

async function setUp() {
  const vc = await startVcsim();
  const rules: FaultRule[] = [];
  const proxy = await startFaultProxy(vc.url, rules);
  const client = await VsphereClient.connect({ url: new URL(proxy.url), insecure: true }, vc.user, vc.password);
  const { vms } = await client.inventory();
  const vm = (vms.find((entry) => entry.name === 'DC0_H0_VM0') ?? assert.fail('vcsim has no DC0_H0_VM0')).ref;
  const other = (vms.find((entry) => entry.name === 'DC0_H1_VM0') ?? assert.fail('vcsim has no DC0_H1_VM0')).ref;
  const [disk] = await client.vmDisks(vm);
  assert.ok(disk, 'the simulator VM has a disk');
  const snapshot = moRefOf(
    await client.runTask(
      'CreateSnapshot_Task',
      vm,
      [el('name', 'lifeboat-cbt'), el('memory', 'false'), el('quiesce', 'false')],
      'snapshot',
    ),
  );
  return { vc, rules, proxy, client, vm, other, disk, snapshot };
}

async function changeTrackingEnabled(client: VsphereClient, vm: MoRef): Promise<string> {
  const [content] = await client.retrieve('VirtualMachine', ['config.changeTrackingEnabled'], [vm]);
  return textOf(content?.props['config.changeTrackingEnabled']);
}

test('CBT against the simulator and a host played through the fault proxy', { skip: unavailable ?? false }, async (t) => {
  const { vc, rules, proxy, client, vm, other, disk, snapshot } = await setUp();
  const since = (previousChangeId: string | null, currentChangeId: string | null, capacity = disk.capacity) =>
    changedBlocksSince({ client, vm, snapshot, deviceKey: disk.key, capacity, blockSize: MIB, previousChangeId, currentChangeId });

  await t.test('the simulator offers no CBT: false, and the VM is not reconfigured', async () => {
    const methods: string[] = [];
    rules.splice(0, rules.length, methodsSeen(methods));
    assert.equal(await enableChangeTracking(client, vm), false);
    assert.ok(!methods.includes('ReconfigVM_Task'), methods.join(' '));
    assert.notEqual(await changeTrackingEnabled(client, vm), 'true');
  });

  await t.test('a host that offers CBT: the VM is reconfigured once and reads back enabled', async () => {
    const methods: string[] = [];
    rules.splice(0, rules.length, offersChangeTracking(vm), methodsSeen(methods));
    assert.equal(await enableChangeTracking(client, vm), true);
    assert.equal(methods.filter((method) => method === 'ReconfigVM_Task').length, 1);
    assert.equal(await changeTrackingEnabled(client, vm), 'true');
    methods.length = 0;
    assert.equal(await enableChangeTracking(client, vm), true, 'already on');
    assert.ok(!methods.includes('ReconfigVM_Task'), 'already on: no second reconfiguration');
  });

  await t.test('a refused reconfiguration is false, not an error', async () => {
    rules.splice(0, rules.length, offersChangeTracking(other), {
      method: 'ReconfigVM_Task',
      fault: 'InvalidState',
      message: 'The operation is not allowed in the current state.',
    });
    assert.equal(await enableChangeTracking(client, other), false);
  });

  await t.test('no change id on either side: the fallback says which', async () => {
    rules.splice(0, rules.length);
    assert.deepEqual(await since(null, CURRENT_CHANGE_ID), { fallback: 'no change id from the previous point: every block is read' });
    assert.deepEqual(await since(PREVIOUS_CHANGE_ID, null), {
      fallback: `the host reports no change id for disk ${disk.key}: every block is read`,
    });
  });

  await t.test("the simulator's missing QueryChangedDiskAreas is a fallback naming the fault", async () => {
    rules.splice(0, rules.length);
    const result = await since(PREVIOUS_CHANGE_ID, CURRENT_CHANGE_ID);
    assert.ok('fallback' in result);
    assert.match(
      result.fallback,
      /^the host has no Changed Block Tracking \(.*QueryChangedDiskAreas.*\(MethodNotFound\)\): every block is read$/,
    );
  });

  await t.test('CBT reset on the host (FileFault, InvalidArgument): a fallback naming the fault', async () => {
    for (const [fault, message] of [
      ['FileFault', 'Error caused by file /vmfs/volumes/ds1/web01/web01-ctk.vmdk'],
      ['InvalidArgument', 'A specified parameter was not correct: changeId'],
    ] as const) {
      rules.splice(0, rules.length, { method: 'QueryChangedDiskAreas', fault, message });
      const result = await since(PREVIOUS_CHANGE_ID, CURRENT_CHANGE_ID);
      assert.ok('fallback' in result);
      assert.match(result.fallback, /^Changed Block Tracking was reset for disk \d+ \(vSphere refused QueryChangedDiskAreas: /, fault);
      assert.ok(result.fallback.includes(message), result.fallback);
    }
  });

  await t.test('a VM gone from the host is an error, not a fallback', async () => {
    rules.splice(0, rules.length, {
      method: 'QueryChangedDiskAreas',
      fault: 'ManagedObjectNotFound',
      message: 'The object has already been deleted',
    });
    await assert.rejects(since(PREVIOUS_CHANGE_ID, CURRENT_CHANGE_ID), { code: 'not-found', message: /already been deleted/ });
  });

  await t.test("the host's answers, asked page by page with the snapshot and change id, become the mask they say", async () => {
    const capacity = 64 * MIB;
    const requests: string[] = [];
    const page = (startOffset: number): string =>
      startOffset === 0
        ? `<returnval><startOffset>0</startOffset><length>${32 * MIB}</length><changedArea><start>${MIB + 4096}</start><length>65536</length></changedArea></returnval>`
        : `<returnval><startOffset>${32 * MIB}</startOffset><length>${32 * MIB}</length><changedArea><start>${63 * MIB}</start><length>${MIB}</length></changedArea><changedArea><start>${40 * MIB}</start><length>${2 * MIB + 512}</length></changedArea></returnval>`;
    rules.splice(0, rules.length, {
      answer: (method, body) => {
        if (method !== 'QueryChangedDiskAreas') return null;
        requests.push(body);
        return soapAnswer(method, page(Number(/<startOffset>(\d+)<\/startOffset>/.exec(body)?.[1])));
      },
    });
    const result = await since(PREVIOUS_CHANGE_ID, CURRENT_CHANGE_ID, capacity);
    assert.ok('mask' in result, 'fallback' in result ? result.fallback : '');
    assert.deepEqual(
      [...result.mask.keys()].filter((block) => result.mask[block] === 1),
      [1, 40, 41, 42, 63],
    );
    assert.equal(result.changedBytes, 65536 + MIB + 2 * MIB + 512);
    assert.equal(requests.length, 2);
    for (const request of requests) {
      assert.ok(request.includes(`<_this type="VirtualMachine">${vm.value}</_this>`));
      assert.ok(request.includes(`<snapshot type="VirtualMachineSnapshot">${snapshot.value}</snapshot>`));
      assert.ok(request.includes(`<deviceKey>${disk.key}</deviceKey>`));
      assert.ok(request.includes(`<changeId>${PREVIOUS_CHANGE_ID}</changeId>`));
    }
    assert.ok(proxy.injected.filter((method) => method === 'QueryChangedDiskAreas').length >= 2);
  });

  await t.test('a connection dropped while asking is an error, not a fallback', async () => {
    rules.splice(0, rules.length);
    const cutting = await startCuttingProxy(Number(new URL(proxy.url).port));
    const cut = await VsphereClient.connect({ url: new URL(`http://127.0.0.1:${cutting.port}/sdk`), insecure: true }, vc.user, vc.password);
    cutting.cutAfter(0);
    await assert.rejects(
      changedBlocksSince({
        client: cut,
        vm,
        snapshot,
        deviceKey: disk.key,
        capacity: disk.capacity,
        blockSize: MIB,
        previousChangeId: PREVIOUS_CHANGE_ID,
        currentChangeId: CURRENT_CHANGE_ID,
      }),
      { code: 'unavailable', message: /cannot reach vSphere/ },
    );
  });
});
