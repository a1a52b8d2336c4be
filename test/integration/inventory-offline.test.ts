// The inventory's "only copy offline" mark, with the virtual tape library the console uses: two VMs
// copied to tape, the tape ejected, and the primary repository losing one VM's point. That VM's only
// copy is the offline tape; the other still reads from the repository; the tape's return clears it.
import assert from 'node:assert/strict';
import { rename } from 'node:fs/promises';
import { after, test } from 'node:test';
import { osCaller } from '../../electron/auth/peer.ts';
import { callContext } from '../../electron/rpc/dispatch.ts';
import type { VmSummary } from '../../shared/domain.ts';
import { tapeLab, tapesOf } from '../helpers/tape.ts';

const lab = await tapeLab({ vms: 2, diskMib: 4, tapeMib: 64 });
const { engine, vms } = lab;
after(() => engine.close());

async function inventory(): Promise<Map<string, VmSummary>> {
  const listed = await engine.handlers['vms.list']({}, callContext(osCaller()));
  return new Map(listed.map((vm) => [vm.name, vm]));
}

function marks(vm: VmSummary | undefined): Pick<VmSummary, 'copies' | 'onlyOffline' | 'offlinePlaces'> | undefined {
  return vm && { copies: vm.copies, onlyOffline: vm.onlyOffline, offlinePlaces: vm.offlinePlaces };
}

test("a VM whose only copy is on an ejected tape is marked; one the repository holds is not; the tape's return clears it", async () => {
  const [tape] = tapesOf(lab.backup as NonNullable<typeof lab.backup>);
  const barcode = tape?.barcode as string;
  const [lost, kept] = vms.map((vm) => vm.name) as [string, string];

  let listed = await inventory();
  for (const name of [lost, kept])
    assert.deepEqual(marks(listed.get(name)), { copies: { online: 2, offline: 0 }, onlyOffline: false, offlinePlaces: [] }, name);

  await engine.tape.ejectTape(barcode, 'test');
  const folder = engine.repository.vmFolder(engine.lookup.resolveVm(lost).id);
  await rename(folder, `${folder}.lost`);
  listed = await inventory();
  assert.deepEqual(marks(listed.get(lost)), {
    copies: { online: 0, offline: 1 },
    onlyOffline: true,
    offlinePlaces: [`tape ${barcode}`],
  });
  assert.deepEqual(marks(listed.get(kept)), { copies: { online: 1, offline: 1 }, onlyOffline: false, offlinePlaces: [`tape ${barcode}`] });

  await engine.tape.importTape(barcode, undefined, 'test');
  assert.deepEqual(marks((await inventory()).get(lost)), { copies: { online: 1, offline: 0 }, onlyOffline: false, offlinePlaces: [] });
});
