// A file-backed storage array (no real array runs here): volumes are folders of VM files;
// snapshots and clones are reflinked copies (the file system shares every block until one side
// writes it: copy-on-write at block level, nothing copied up front), so the array's folder must be
// on a file system that shares blocks (XFS with reflink, btrfs). Its state (array.json) is the
// device's: volumes, snapshots, clones with their allowed servers and presentations, the hosts'
// static target lists, a clone quota, and the protocol steps with modelled timings and faults.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmod, constants, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrnoCode, LifeboatError } from '../../errors.ts';
import type {
  ArrayClone,
  ArrayConfig,
  ArrayProtocol,
  ArraySnapshot,
  ArraySummary,
  ArrayVolume,
  Presentation,
  StorageArray,
} from './storage-array.ts';

const STATE = 'array.json';
/** Modelled times of the slow steps (ms, before the time scale). */
const TIMINGS = { clone: 200, rescan: 2000, resignature: 1500, nfsMount: 300 };
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

type State = Omit<ArraySummary, 'root'>;

function checkName(name: string, what: string): void {
  if (!NAME.test(name))
    throw new LifeboatError('bad-request', `${what} "${name}" must be letters, digits, dot, dash and underscore (up to 63)`);
}

/** Copies a file sharing every block (FICLONE); fails where the file system cannot. */
async function reflinkFile(source: string, target: string, mode: number): Promise<void> {
  try {
    await copyFile(source, target, constants.COPYFILE_FICLONE_FORCE);
  } catch (error) {
    if (
      isErrnoCode(error, 'EOPNOTSUPP') ||
      isErrnoCode(error, 'ENOTSUP') ||
      isErrnoCode(error, 'EXDEV') ||
      isErrnoCode(error, 'EINVAL') ||
      isErrnoCode(error, 'ENOSYS')
    ) {
      throw new LifeboatError(
        'unavailable',
        `the file system under ${target} cannot share blocks (reflink); a file-backed array needs XFS with reflink or btrfs`,
      );
    }
    throw error;
  }
  await chmod(target, mode);
}

/** A folder tree copied with reflinked files. */
async function reflinkTree(from: string, to: string, mode: number): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (entry.isDirectory()) await reflinkTree(join(from, entry.name), join(to, entry.name), mode);
    else if (entry.isFile()) await reflinkFile(join(from, entry.name), join(to, entry.name), mode);
  }
}

export class FileArray implements StorageArray {
  readonly name: string;
  readonly root: string;
  /** State changes one at a time (the engine is the array's one client). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
  }

  /** One instance per array in a process, so all its changes go through one queue. */
  private static readonly opened = new Map<string, FileArray>();

  static open(name: string, root: string): FileArray {
    let array = FileArray.opened.get(root);
    if (!array) FileArray.opened.set(root, (array = new FileArray(name, root)));
    return array;
  }

  /** Makes an array in `root` (empty or new) with a first volume; refuses a file system that
   * cannot share blocks, before anything is written there but a probe. */
  static async create(name: string, root: string, config: Partial<ArrayConfig> = {}): Promise<FileArray> {
    checkName(name, 'array name');
    await mkdir(root, { recursive: true });
    if ((await readdir(root)).length > 0) throw new LifeboatError('conflict', `${root} is not empty; an array needs a folder of its own`);
    const probe = join(root, '.reflink-probe');
    try {
      await writeFile(probe, randomBytes(4096));
      await reflinkFile(probe, `${probe}-copy`, 0o600);
    } finally {
      await rm(probe, { force: true });
      await rm(`${probe}-copy`, { force: true });
    }
    const state: State = {
      name,
      serial: randomBytes(6).toString('hex').toUpperCase(),
      config: {
        protocol: 'iscsi',
        address: '127.0.0.1',
        cloneQuota: 16,
        timeScale: 1,
        refusedHosts: [],
        faults: {},
        ...Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)),
      },
      volumes: [],
      snapshots: [],
      clones: [],
      hosts: [],
      clonesCreated: 0,
    };
    await mkdir(join(root, 'volumes'));
    await mkdir(join(root, 'snapshots'));
    await mkdir(join(root, 'clones'));
    const array = FileArray.open(name, root);
    await array.save(state);
    return array;
  }

  private async load(): Promise<State> {
    try {
      return JSON.parse(await readFile(join(this.root, STATE), 'utf8')) as State;
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT'))
        throw new LifeboatError('not-found', `array ${this.name} has no state at ${this.root}; was its folder removed?`);
      throw new LifeboatError('unavailable', `array ${this.name}: its state file cannot be read (${(error as Error).message})`);
    }
  }

  private async save(state: State): Promise<void> {
    const temporary = join(this.root, `${STATE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temporary, JSON.stringify(state, null, 2));
    await rename(temporary, join(this.root, STATE));
  }

  /** Runs `change` on the current state and saves what it leaves, one change at a time. */
  private change<T>(change: (state: State) => Promise<T> | T): Promise<T> {
    const run = this.queue.then(async () => {
      const state = await this.load();
      const result = await change(state);
      await this.save(state);
      return result;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private wait(ms: number, state: State): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms * state.config.timeScale));
  }

  async summary(): Promise<ArraySummary> {
    return { ...(await this.load()), root: this.root };
  }

  /** Changes the array's configuration (initiator groups, quota, fabric faults). */
  configure(patch: Partial<ArrayConfig>): Promise<ArrayConfig> {
    return this.change((state) => (state.config = { ...state.config, ...patch }));
  }

  createVolume(name: string): Promise<ArrayVolume> {
    checkName(name, 'volume name');
    return this.change(async (state) => {
      if (state.volumes.some((volume) => volume.name === name))
        throw new LifeboatError('conflict', `array ${this.name} already has a volume ${name}`);
      const volume = { name, folder: join(this.root, 'volumes', name), createdAt: new Date().toISOString() };
      await mkdir(volume.folder);
      state.volumes.push(volume);
      return volume;
    });
  }

  snapshot(volumeName: string): Promise<ArraySnapshot> {
    return this.change(async (state) => {
      const volume = state.volumes.find((candidate) => candidate.name === volumeName || candidate.folder === volumeName);
      if (!volume) throw new LifeboatError('not-found', `array ${this.name} has no volume "${volumeName}"`);
      const id = `snap-${randomUUID().slice(0, 8)}`;
      const snapshot = { id, volume: volume.name, folder: join(this.root, 'snapshots', id), createdAt: new Date().toISOString() };
      try {
        await reflinkTree(volume.folder, snapshot.folder, 0o444);
      } catch (error) {
        await rm(snapshot.folder, { recursive: true, force: true });
        throw error;
      }
      state.snapshots.push(snapshot);
      return snapshot;
    });
  }

  deleteSnapshot(id: string): Promise<void> {
    return this.change(async (state) => {
      const snapshot = state.snapshots.find((candidate) => candidate.id === id);
      if (!snapshot) throw new LifeboatError('not-found', `array ${this.name} has no snapshot ${id}`);
      await rm(snapshot.folder, { recursive: true, force: true });
      state.snapshots = state.snapshots.filter((candidate) => candidate.id !== id);
    });
  }

  clone(snapshotId: string, purpose: string): Promise<ArrayClone> {
    return this.change(async (state) => {
      const snapshot = state.snapshots.find((candidate) => candidate.id === snapshotId);
      if (!snapshot || !(await stat(snapshot.folder).catch(() => null)))
        throw new LifeboatError('not-found', `snapshot ${snapshotId} no longer exists on array ${this.name}`);
      if (state.clones.length >= state.config.cloneQuota)
        throw new LifeboatError(
          'target-full',
          `array ${this.name} allows ${state.config.cloneQuota} clones and has ${state.clones.length}; remove one or raise its quota`,
        );
      const id = `clone-${randomUUID().slice(0, 8)}`;
      const clone: ArrayClone = {
        id,
        snapshotId,
        folder: join(this.root, 'clones', id),
        createdAt: new Date().toISOString(),
        purpose,
        allowedServers: [],
        presentations: [],
      };
      await this.wait(TIMINGS.clone, state);
      try {
        await reflinkTree(snapshot.folder, clone.folder, 0o644);
      } catch (error) {
        await rm(clone.folder, { recursive: true, force: true });
        throw error;
      }
      state.clones.push(clone);
      state.clonesCreated++;
      return clone;
    });
  }

  deleteClone(id: string): Promise<void> {
    return this.change(async (state) => {
      const clone = state.clones.find((candidate) => candidate.id === id);
      if (!clone) return;
      if (clone.presentations.length > 0)
        throw new LifeboatError(
          'conflict',
          `clone ${id} is still presented to ${clone.presentations.map((entry) => entry.host).join(', ')}`,
        );
      await rm(clone.folder, { recursive: true, force: true });
      state.clones = state.clones.filter((candidate) => candidate.id !== id);
    });
  }

  present(cloneId: string, host: string, log: (message: string) => void): Promise<Presentation> {
    return this.change(async (state) => {
      const clone = state.clones.find((candidate) => candidate.id === cloneId);
      if (!clone) throw new LifeboatError('not-found', `array ${this.name} has no clone ${cloneId}`);
      const { protocol, address } = state.config;
      if (state.config.refusedHosts.includes(host)) {
        throw new LifeboatError(
          'unauthorized',
          `array ${this.name} does not serve host ${host}: it is in none of its ${protocol === 'fc' ? 'zones' : 'initiator groups or export rules'}`,
        );
      }
      const existing = clone.presentations.find((entry) => entry.host === host);
      if (existing) return existing;
      if (!clone.allowedServers.includes(host)) clone.allowedServers.push(host);
      log(`${host} added to the allowed servers of ${cloneId}`);
      const presentation = await this.attach(state, clone, host, protocol, address, log);
      clone.presentations.push(presentation);
      return presentation;
    });
  }

  /** The protocol's steps on the host side, as the array drives them. */
  private async attach(
    state: State,
    clone: ArrayClone,
    host: string,
    protocol: ArrayProtocol,
    address: string,
    log: (message: string) => void,
  ): Promise<Presentation> {
    const datastore = `snap-${clone.id.slice(6)}-${state.snapshots.find((snapshot) => snapshot.id === clone.snapshotId)?.volume ?? 'volume'}`;
    if (protocol === 'nfs') {
      // An NFS share is mounted by address and share; the datastore takes the share's name.
      await this.wait(TIMINGS.nfsMount, state);
      const target = `${address}:/clones/${clone.id}`;
      log(`datastore ${clone.id} registered on ${host} from ${target}`);
      return { host, protocol, datastore: clone.id, path: clone.folder, target };
    }
    const target =
      protocol === 'iscsi'
        ? `${address}:3260 iqn.2026-12.io.lifeboat:${state.serial.toLowerCase()}.${clone.id}`
        : `wwn 50:01:43:80:${state.serial.slice(0, 2)}:${state.serial.slice(2, 4)}:${state.serial.slice(4, 6)}:01`;
    if (protocol === 'iscsi') {
      let entry = state.hosts.find((known) => known.name === host);
      if (!entry) state.hosts.push((entry = { name: host, staticTargets: [] }));
      if (!entry.staticTargets.includes(`${address}:3260`)) {
        entry.staticTargets.push(`${address}:3260`);
        log(`${address}:3260 added to the static iSCSI targets of ${host}`);
      }
    }
    await this.wait(TIMINGS.rescan, state);
    if (state.config.faults.rescanFindsNothing)
      throw new LifeboatError(
        'unavailable',
        `HBA rescan on ${host} found no new device from array ${this.name} (${protocol === 'fc' ? 'check the zoning' : 'check the iSCSI target'})`,
      );
    log(`HBA rescan on ${host} found the clone's LUN`);
    await this.wait(TIMINGS.resignature, state);
    if (state.config.faults.resignatureFails)
      throw new LifeboatError('unavailable', `VMFS resignature of the clone's volume failed on ${host}`);
    log(`VMFS volume resignatured and mounted on ${host} as ${datastore}`);
    return { host, protocol, datastore, path: clone.folder, target };
  }

  async removeClonesOf(purpose: string): Promise<string[]> {
    const ours = (await this.summary()).clones.filter((clone) => clone.purpose === purpose);
    for (const clone of ours) {
      for (const presentation of clone.presentations) await this.unpresent(clone.id, presentation.host);
      await this.deleteClone(clone.id);
    }
    return ours.map((clone) => clone.id);
  }

  unpresent(cloneId: string, host: string): Promise<void> {
    return this.change((state) => {
      const clone = state.clones.find((candidate) => candidate.id === cloneId);
      if (!clone) return;
      clone.presentations = clone.presentations.filter((entry) => entry.host !== host);
      clone.allowedServers = clone.allowedServers.filter((server) => server !== host);
    });
  }
}
