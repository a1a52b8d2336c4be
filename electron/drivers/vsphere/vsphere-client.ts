// The vSphere calls Lifeboat makes, typed: login, inventory, VM creation and reconfiguration,
// snapshots, power, tasks, and datastore files over the host's HTTP file service (/folder).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LifeboatError } from '../../errors.ts';
import { ERROR_PAGE_BYTES, parseContentRange, rangeBody } from './http-range.ts';
import { send, SoapClient, type Endpoint, type RequestBody } from './soap-client.ts';
import { asArray, el, moRefOf, moRefXml, textOf, xml, type MoRef } from './xml.ts';

export type ServiceContent = { rootFolder: MoRef; propertyCollector: MoRef; viewManager: MoRef; sessionManager: MoRef; fileManager: MoRef };

export type DatastoreInfo = {
  ref: MoRef;
  name: string;
  type: string;
  capacity: number;
  freeSpace: number;
  url: string;
  accessible: boolean;
};
export type HostInfo = { ref: MoRef; name: string; parent: MoRef; datastores: MoRef[]; networks: MoRef[]; connected: boolean };
export type Inventory = {
  datacenters: { ref: MoRef; name: string; vmFolder: MoRef }[];
  hosts: HostInfo[];
  datastores: DatastoreInfo[];
  networks: { ref: MoRef; name: string }[];
  vms: { ref: MoRef; name: string; host: MoRef | null; vmPathName: string; uuid?: string | null }[];
  computeResources: { ref: MoRef; resourcePool: MoRef | null }[];
};

export type VmDisk = {
  key: number;
  fileName: string;
  capacity: number;
  thin: boolean;
  controllerKey: number;
  controllerBus: number;
  unitNumber: number;
};

type PropSet = Record<string, unknown>;
type ObjectContent = { obj: MoRef; props: PropSet };

const TASK_POLL_MS = 100;
const TASK_TIMEOUT_MS = 30 * 60_000;

function num(value: unknown): number {
  const parsed = Number(textOf(value));
  return Number.isFinite(parsed) ? parsed : 0;
}

export class VsphereClient {
  readonly soap: SoapClient;
  readonly content: ServiceContent;

  private constructor(soap: SoapClient, content: ServiceContent) {
    this.soap = soap;
    this.content = content;
  }

  static async connect(endpoint: Endpoint, user: string, password: string): Promise<VsphereClient> {
    const soap = new SoapClient(endpoint);
    const raw = (await soap.call('RetrieveServiceContent', { type: 'ServiceInstance', value: 'ServiceInstance' })) as
      Record<string, unknown> | undefined;
    if (!raw)
      throw new LifeboatError('unavailable', `${endpoint.url.origin} did not describe its services; is it a vCenter or ESXi /sdk URL?`);
    const content: ServiceContent = {
      rootFolder: moRefOf(raw.rootFolder),
      propertyCollector: moRefOf(raw.propertyCollector),
      viewManager: moRefOf(raw.viewManager),
      sessionManager: moRefOf(raw.sessionManager),
      fileManager: moRefOf(raw.fileManager),
    };
    try {
      await soap.call('Login', content.sessionManager, [el('userName', user), el('password', password)]);
    } catch (error) {
      if (error instanceof LifeboatError && error.code === 'unauthorized') {
        throw new LifeboatError('unauthorized', `vSphere at ${endpoint.url.origin} refused user "${user}": wrong user name or password`);
      }
      throw error;
    }
    return new VsphereClient(soap, content);
  }

  async logout(): Promise<void> {
    await this.soap.call('Logout', this.content.sessionManager).catch(() => undefined);
  }

  /** Properties of objects: either listed ones, or everything of `type` below the root folder. */
  async retrieve(type: string, paths: string[], objects?: MoRef[]): Promise<ObjectContent[]> {
    let view: MoRef | null = null;
    if (!objects) {
      view = moRefOf(
        await this.soap.call('CreateContainerView', this.content.viewManager, [
          moRefXml('container', this.content.rootFolder),
          el('type', type),
          el('recursive', 'true'),
        ]),
      );
    }
    const propSet = el('propSet', xml(el('type', type), ...paths.map((path) => el('pathSet', path))));
    const objectSets = view
      ? [
          el(
            'objectSet',
            xml(
              moRefXml('obj', view),
              el('skip', 'true'),
              el('selectSet', xml(el('name', 'view'), el('type', 'ContainerView'), el('path', 'view'), el('skip', 'false')), {
                'xsi:type': 'TraversalSpec',
              }),
            ),
          ),
        ]
      : (objects ?? []).map((obj) => el('objectSet', xml(moRefXml('obj', obj), el('skip', 'false'))));
    try {
      const result: ObjectContent[] = [];
      let returned = (await this.soap.call('RetrievePropertiesEx', this.content.propertyCollector, [
        el('specSet', xml(propSet, ...objectSets)),
        el('options', []),
      ])) as Record<string, unknown> | undefined;
      for (let page = 0; returned && page < 10_000; page++) {
        for (const object of asArray(returned.objects as Record<string, unknown>[])) {
          const props: PropSet = {};
          for (const prop of asArray(object.propSet as { name: unknown; val: unknown }[])) props[textOf(prop.name)] = prop.val;
          result.push({ obj: moRefOf(object.obj), props });
        }
        const token = textOf(returned.token);
        if (!token) break;
        returned = (await this.soap.call('ContinueRetrievePropertiesEx', this.content.propertyCollector, [el('token', token)])) as
          Record<string, unknown> | undefined;
      }
      return result;
    } finally {
      if (view) await this.soap.call('DestroyView', view).catch(() => undefined);
    }
  }

  async inventory(): Promise<Inventory> {
    const [datacenters, hosts, datastores, networks, vms, computeResources] = await Promise.all([
      this.retrieve('Datacenter', ['name', 'vmFolder']),
      this.retrieve('HostSystem', ['name', 'parent', 'datastore', 'network', 'runtime.connectionState']),
      this.retrieve('Datastore', ['name', 'summary.type', 'summary.capacity', 'summary.freeSpace', 'summary.url', 'summary.accessible']),
      this.retrieve('Network', ['name']),
      this.retrieve('VirtualMachine', ['name', 'runtime.host', 'config.files.vmPathName', 'config.uuid']),
      this.retrieve('ComputeResource', ['resourcePool']),
    ]);
    const refs = (value: unknown): MoRef[] =>
      asArray((value as { ManagedObjectReference?: unknown } | undefined)?.ManagedObjectReference).map(moRefOf);
    return {
      datacenters: datacenters.map(({ obj, props }) => ({ ref: obj, name: textOf(props.name), vmFolder: moRefOf(props.vmFolder) })),
      hosts: hosts.map(({ obj, props }) => ({
        ref: obj,
        name: textOf(props.name),
        parent: moRefOf(props.parent),
        datastores: refs(props.datastore),
        networks: refs(props.network),
        connected: textOf(props['runtime.connectionState']) === 'connected',
      })),
      datastores: datastores.map(({ obj, props }) => ({
        ref: obj,
        name: textOf(props.name),
        type: textOf(props['summary.type']),
        capacity: num(props['summary.capacity']),
        freeSpace: num(props['summary.freeSpace']),
        url: textOf(props['summary.url']),
        accessible: textOf(props['summary.accessible']) !== 'false',
      })),
      networks: networks.map(({ obj, props }) => ({ ref: obj, name: textOf(props.name) })),
      vms: vms.map(({ obj, props }) => ({
        ref: obj,
        name: textOf(props.name),
        host: props['runtime.host'] ? moRefOf(props['runtime.host']) : null,
        vmPathName: textOf(props['config.files.vmPathName']),
        uuid: props['config.uuid'] ? textOf(props['config.uuid']).toLowerCase() : null,
      })),
      computeResources: computeResources.map(({ obj, props }) => ({
        ref: obj,
        resourcePool: props.resourcePool ? moRefOf(props.resourcePool) : null,
      })),
    };
  }

  /** Waits for a task to end; its error becomes a LifeboatError naming what failed. */
  async waitForTask(task: MoRef, what: string, onProgress?: (percent: number) => void): Promise<unknown> {
    const deadline = Date.now() + TASK_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const [info] = await this.retrieve('Task', ['info.state', 'info.error', 'info.result', 'info.progress'], [task]);
      const state = textOf(info?.props['info.state']);
      if (state === 'success') return info?.props['info.result'];
      if (state === 'error') {
        const error = info?.props['info.error'] as Record<string, unknown> | undefined;
        const fault = error?.fault as Record<string, unknown> | undefined;
        const name = String(fault?.['@_type'] ?? 'Fault');
        const code =
          name === 'DuplicateName' || name === 'FileAlreadyExists'
            ? 'conflict'
            : name === 'NoDiskSpace' || name === 'InsufficientResourcesFault'
              ? 'target-full'
              : 'unavailable';
        throw new LifeboatError(code, `vSphere task ${what} failed: ${textOf(error?.localizedMessage) || name} (${name})`);
      }
      if (onProgress && info?.props['info.progress'] !== undefined) onProgress(num(info.props['info.progress']));
      await new Promise((resolve) => setTimeout(resolve, TASK_POLL_MS));
    }
    throw new LifeboatError('unavailable', `vSphere task ${what} did not finish within 30 minutes`);
  }

  async runTask(method: string, target: MoRef, parameters: string[], what: string): Promise<unknown> {
    const task = moRefOf(await this.soap.call(method, target, parameters));
    return this.waitForTask(task, what);
  }

  /** Removes one snapshot (its children stay), consolidating what the VM wrote since into its disks. */
  async removeSnapshot(snapshot: MoRef, what: string): Promise<void> {
    await this.runTask('RemoveSnapshot_Task', snapshot, [el('removeChildren', false), el('consolidate', true)], what);
  }

  async vmDisks(vm: MoRef): Promise<VmDisk[]> {
    const [content] = await this.retrieve('VirtualMachine', ['config.hardware.device'], [vm]);
    const devices = asArray((content?.props['config.hardware.device'] as { VirtualDevice?: unknown } | undefined)?.VirtualDevice) as Record<
      string,
      unknown
    >[];
    const busOf = (key: number): number => num(devices.find((device) => num(device.key) === key)?.busNumber);
    return devices
      .filter((device) => device['@_type'] === 'VirtualDisk')
      .map((device) => {
        const backing = device.backing as Record<string, unknown>;
        return {
          controllerBus: busOf(num(device.controllerKey)),
          key: num(device.key),
          fileName: textOf(backing.fileName),
          capacity: num(device.capacityInBytes) || num(device.capacityInKB) * 1024,
          thin: textOf(backing.thinProvisioned) === 'true',
          controllerKey: num(device.controllerKey),
          unitNumber: num(device.unitNumber),
        };
      });
  }

  async powerState(vm: MoRef): Promise<string> {
    const [content] = await this.retrieve('VirtualMachine', ['runtime.powerState'], [vm]);
    return textOf(content?.props['runtime.powerState']);
  }

  /** Names of a VM's snapshots, whole tree. */
  async snapshotNames(vm: MoRef): Promise<string[]> {
    const [content] = await this.retrieve('VirtualMachine', ['snapshot'], [vm]);
    const names: string[] = [];
    const walk = (list: unknown): void => {
      for (const tree of asArray(list as Record<string, unknown>[])) {
        names.push(textOf(tree.name));
        walk(tree.childSnapshotList);
      }
    };
    walk((content?.props.snapshot as { rootSnapshotList?: unknown } | undefined)?.rootSnapshotList);
    return names;
  }

  /** SCSI controllers of a VM with the unit numbers already taken on each. */
  private async scsiControllers(vm: MoRef): Promise<{ key: number; usedUnits: Set<number> }[]> {
    const [content] = await this.retrieve('VirtualMachine', ['config.hardware.device'], [vm]);
    const devices = asArray((content?.props['config.hardware.device'] as { VirtualDevice?: unknown } | undefined)?.VirtualDevice) as Record<
      string,
      unknown
    >[];
    const controllers = devices.filter((device) => /SCSIController$|LsiLogic|BusLogic/.test(String(device['@_type'])));
    return controllers.map((controller) => {
      const key = num(controller.key);
      const usedUnits = new Set<number>([7]);
      for (const device of devices)
        if (num(device.controllerKey) === key && device.unitNumber !== undefined) usedUnits.add(num(device.unitNumber));
      return { key, usedUnits };
    });
  }

  /** HotAdd: attaches an existing disk file to a (proxy) VM; returns the device key. */
  async attachDisk(vm: MoRef, datastorePath: string, capacity: number): Promise<number> {
    const controller = (await this.scsiControllers(vm)).find((candidate) => candidate.usedUnits.size < 16);
    if (!controller) throw new LifeboatError('unavailable', `proxy VM ${vm.value} has no SCSI controller with a free slot for HotAdd`);
    let unit = 0;
    while (controller.usedUnits.has(unit)) unit++;
    const spec = el(
      'spec',
      xml(
        el(
          'deviceChange',
          xml(
            el('operation', 'add'),
            el(
              'device',
              xml(
                el('key', -1),
                el('backing', xml(el('fileName', datastorePath), el('diskMode', 'independent_persistent')), {
                  'xsi:type': 'VirtualDiskFlatVer2BackingInfo',
                }),
                el('controllerKey', controller.key),
                el('unitNumber', unit),
                el('capacityInKB', Math.ceil(capacity / 1024)),
              ),
              { 'xsi:type': 'VirtualDisk' },
            ),
          ),
        ),
      ),
    );
    await this.runTask('ReconfigVM_Task', vm, [spec], `hot-add ${datastorePath}`);
    const attached = (await this.vmDisks(vm)).find((disk) => disk.fileName === datastorePath);
    if (!attached) throw new LifeboatError('unavailable', `hot-added disk ${datastorePath} does not show on proxy VM ${vm.value}`);
    return attached.key;
  }

  /** Detaches a disk from a VM without deleting its files. */
  async detachDisk(vm: MoRef, datastorePath: string): Promise<void> {
    const disk = (await this.vmDisks(vm)).find((candidate) => candidate.fileName === datastorePath);
    if (!disk) return;
    const spec = el(
      'spec',
      xml(
        el(
          'deviceChange',
          xml(
            el('operation', 'remove'),
            el('device', xml(el('key', disk.key), el('controllerKey', disk.controllerKey), el('unitNumber', disk.unitNumber)), {
              'xsi:type': 'VirtualDisk',
            }),
          ),
        ),
      ),
    );
    await this.runTask('ReconfigVM_Task', vm, [spec], `detach ${datastorePath}`);
  }

  private folderUrl(datacenter: string, datastore: string, path: string): string {
    const query = new URLSearchParams({ dcPath: datacenter, dsName: datastore });
    return `/folder/${path.split('/').map(encodeURIComponent).join('/')}?${query}`;
  }

  /** Uploads a local file to a datastore path through the host's HTTP file service. */
  async uploadFile(datacenter: string, datastore: string, path: string, localPath: string): Promise<void> {
    const { size } = await stat(localPath);
    await this.upload(datacenter, datastore, path, createReadStream(localPath), size);
  }

  /** Uploads `length` bytes, given in order by `body`, to a datastore path (one PUT on a kept-alive
   * session); `signal` cancels it at once. */
  async upload(
    datacenter: string,
    datastore: string,
    path: string,
    body: RequestBody,
    length: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const response = await send(this.soap.endpoint, {
      method: 'PUT',
      path: this.folderUrl(datacenter, datastore, path),
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': length,
        ...(this.soap.sessionCookie ? { cookie: this.soap.sessionCookie } : {}),
      },
      body: { chunks: body, length },
      ...(signal ? { signal } : {}),
    });
    if (response.status < 200 || response.status >= 300)
      throw new LifeboatError('unavailable', `upload of [${datastore}] ${path} failed: HTTP ${response.status}`);
  }

  /** Reads a small datastore file (a VMDK descriptor) through the host's HTTP file service. */
  async downloadText(datacenter: string, datastore: string, path: string, maxBytes = 64 * 1024): Promise<string> {
    const response = await send(this.soap.endpoint, {
      method: 'GET',
      path: this.folderUrl(datacenter, datastore, path),
      headers: this.soap.sessionCookie ? { cookie: this.soap.sessionCookie } : {},
    });
    if (response.status !== 200)
      throw new LifeboatError('unavailable', `download of [${datastore}] ${path} failed: HTTP ${response.status}`);
    if (response.body.length > maxBytes)
      throw new LifeboatError('unavailable', `[${datastore}] ${path} is larger than ${maxBytes} bytes; it is not a descriptor`);
    return response.body.toString('latin1');
  }

  /** `length` bytes at `offset` of a datastore file: one ranged GET on the host's file service
   * (a kept-alive connection). Exactly those bytes, or one LifeboatError naming the file and offset.
   * The answer is buffered whole: ask for a few MiB at a time (send() refuses more than 64 MiB).
   * `signal`: a cancel ends the read at once (a host that stopped answering would hold it 60 s). */
  async readRange(
    datacenter: string,
    datastore: string,
    path: string,
    offset: number,
    length: number,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const label = `[${datastore}] ${path}`;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0)
      throw new RangeError(`read of ${length} bytes at ${offset} of ${label}`);
    if (length === 0) return Buffer.alloc(0);
    const response = await send(this.soap.endpoint, {
      method: 'GET',
      path: this.folderUrl(datacenter, datastore, path),
      headers: { range: `bytes=${offset}-${offset + length - 1}`, ...(this.soap.sessionCookie ? { cookie: this.soap.sessionCookie } : {}) },
      // Room for an error page too; a longer answer than asked is refused by rangeBody.
      maxBodyBytes: Math.max(length, ERROR_PAGE_BYTES),
      ...(signal ? { signal } : {}),
    }).catch((error: unknown) => {
      if (error instanceof LifeboatError && error.code === 'cancelled') throw error;
      // A dropped connection or an answer too long for the range: say which read it was.
      const why = error instanceof Error ? error.message : String(error);
      throw new LifeboatError('unavailable', `reading ${label} at offset ${offset} (${length} bytes) failed: ${why}`, { cause: error });
    });
    return rangeBody(response, { offset, length, label });
  }

  /** The size of a datastore file: HEAD, or where the host does not answer HEAD, the total a
   * one-byte range reports. A missing file is 'not-found'. */
  async fileSize(datacenter: string, datastore: string, path: string): Promise<number> {
    const label = `[${datastore}] ${path}`;
    const headers: Record<string, string> = this.soap.sessionCookie ? { cookie: this.soap.sessionCookie } : {};
    const url = this.folderUrl(datacenter, datastore, path);
    const head = await send(this.soap.endpoint, { method: 'HEAD', path: url, headers, maxBodyBytes: 0 });
    if (head.status === 404) throw new LifeboatError('not-found', `${label} is not on the datastore (HTTP 404)`);
    if (head.status === 401 || head.status === 403)
      throw new LifeboatError('unauthorized', `the host refused the session reading ${label} (HTTP ${head.status})`);
    const length = Number(head.headers['content-length']);
    if (head.status === 200 && head.headers['content-length'] !== undefined && Number.isSafeInteger(length) && length >= 0) return length;
    const probe = await send(this.soap.endpoint, {
      method: 'GET',
      path: url,
      headers: { ...headers, range: 'bytes=0-0' },
      maxBodyBytes: ERROR_PAGE_BYTES,
    });
    if (probe.status === 404) throw new LifeboatError('not-found', `${label} is not on the datastore (HTTP 404)`);
    const total = parseContentRange(probe.headers['content-range'])?.total;
    if (probe.status === 206 && total !== null && total !== undefined) return total;
    // An empty file has no byte 0: hosts answer 416 with "bytes */0", or 200 with nothing.
    if (probe.status === 416 && /^bytes \*\/0$/.test(probe.headers['content-range'] ?? '')) return 0;
    if (probe.status === 200 && probe.body.length === 0) return 0;
    throw new LifeboatError(
      'unavailable',
      `the size of ${label} cannot be read: HTTP ${head.status}, then HTTP ${probe.status} to a one-byte range`,
    );
  }
}
