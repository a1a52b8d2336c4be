// The vSphere calls of Instant Recovery: an NFS export mounted on an ESXi host as a datastore,
// a VM registered from it, powered on and off, unregistered (its files stay), renamed; and the
// datastore unmounted again.
import { LifeboatError } from '../../errors.ts';
import { VsphereFault } from './soap-client.ts';
import type { VsphereClient } from './vsphere-client.ts';
import { el, moRefOf, moRefXml, textOf, xml, type MoRef } from './xml.ts';

export type NasMount = { remoteHost: string; remotePath: string; datastoreName: string };

async function datastoreSystem(client: VsphereClient, host: MoRef): Promise<MoRef> {
  const [content] = await client.retrieve('HostSystem', ['configManager.datastoreSystem'], [host]);
  const system = content?.props['configManager.datastoreSystem'];
  if (!system) throw new LifeboatError('unavailable', `ESXi host ${host.value} has no datastore system to mount NFS with`);
  return moRefOf(system);
}

/** Mounts an NFS v3 export on `host` as a datastore named `datastoreName`; returns its ref. */
export async function mountNasDatastore(client: VsphereClient, host: MoRef, mount: NasMount): Promise<MoRef> {
  const spec = el(
    'spec',
    xml(
      el('remoteHost', mount.remoteHost),
      el('remotePath', mount.remotePath),
      el('localPath', mount.datastoreName),
      el('accessMode', 'readWrite'),
      el('type', 'NFS'),
    ),
  );
  return moRefOf(await client.soap.call('CreateNasDatastore', await datastoreSystem(client, host), [spec]));
}

/** Unmounts the datastore from `host`. Hosts without RemoveDatastore (vCenter's simulator)
 * take Destroy_Task on the datastore, which unmounts it from every host. */
export async function unmountNasDatastore(client: VsphereClient, host: MoRef, datastore: MoRef): Promise<void> {
  try {
    await client.soap.call('RemoveDatastore', await datastoreSystem(client, host), [moRefXml('datastore', datastore)]);
  } catch (error) {
    if (!(error instanceof VsphereFault) || !/MethodNotFound|NotImplemented|NotSupported/.test(error.fault)) throw error;
    await client.runTask('Destroy_Task', datastore, [], `unmount datastore ${datastore.value}`);
  }
}

export async function registerVm(
  client: VsphereClient,
  place: { vmFolder: MoRef; pool: MoRef; host: { ref: MoRef } },
  vmxPath: string,
  name: string,
): Promise<MoRef> {
  const task = moRefOf(
    await client.soap.call('RegisterVM_Task', place.vmFolder, [
      el('path', vmxPath),
      el('name', name),
      el('asTemplate', false),
      moRefXml('pool', place.pool),
      moRefXml('host', place.host.ref),
    ]),
  );
  return moRefOf(await client.waitForTask(task, `register ${vmxPath}`));
}

export async function powerOn(client: VsphereClient, vm: MoRef, name: string): Promise<void> {
  await client.runTask('PowerOnVM_Task', vm, [], `power on ${name}`);
}

/** Powers a VM off unless it is off already. */
export async function powerOff(client: VsphereClient, vm: MoRef, name: string): Promise<void> {
  if ((await client.powerState(vm)) !== 'poweredOff') await client.runTask('PowerOffVM_Task', vm, [], `power off ${name}`);
}

/** Removes a VM from the inventory and leaves its files where they are. */
export async function unregisterVm(client: VsphereClient, vm: MoRef): Promise<void> {
  await client.soap.call('UnregisterVM', vm);
}

export async function renameVm(client: VsphereClient, vm: MoRef, name: string): Promise<void> {
  await client.runTask('Rename_Task', vm, [el('newName', name)], `rename to ${name}`);
}

/** The VM a path names, if one is registered ("[ds] folder/vm.vmx"). */
export async function findVmByPath(client: VsphereClient, vmxPath: string): Promise<MoRef | null> {
  const vms = await client.retrieve('VirtualMachine', ['config.files.vmPathName']);
  const found = vms.find(({ props }) => textOf(props['config.files.vmPathName']) === vmxPath);
  return found ? found.obj : null;
}
