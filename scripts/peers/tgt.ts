// A real tape library for tests and the bench: Debian's tgt (a userspace SCSI target) emulating
// SSC tape drives and an SMC media changer, offered over iSCSI on a loopback port. Here, not under
// test/, so the bench may use it too. One tgtd per library, on its own control port (`-C`);
// tgtd ignores SIGTERM, so `stop()` kills it (its state is in the image files).
//
// Layout of a library with D drives, S slots and M mail slots (element addresses as SMC numbers
// them; LUNs as REPORT LUNS lists them):
//   LUN 0            tgt's controller (STORAGE_ARRAY_CONTROLLER)
//   LUN 1..D         the drives (SEQUENTIAL_ACCESS), no medium until the changer loads one
//   LUN D+1          the changer (MEDIA_CHANGER)
//   elements         drives 1..D, picker 100, slots 1000.., mail slots 2000..
// Tapes are image files named by barcode in the changer's media home (`dir/media`).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);

export const TGT_ADDRESSES = { firstDrive: 1, picker: 100, firstSlot: 1000, firstMailslot: 2000 } as const;

export type TgtTapePlace = { kind: 'slot'; index: number } | { kind: 'mailslot'; index: number } | { kind: 'outside' };

export type TgtTapeSpec = {
  barcode: string;
  sizeMiB: number;
  /** Where the tape starts; by default the next free slot. */
  place?: TgtTapePlace;
  type?: 'data' | 'WORM' | 'clean';
};

export type TgtLibrarySpec = {
  drives?: number;
  slots?: number;
  mailslots?: number;
  tapes: TgtTapeSpec[];
  targetName?: string;
  /** One-way CHAP: the initiator must log in with this user and secret. */
  chap?: { user: string; secret: string };
};

export type TgtLibrary = {
  host: '127.0.0.1';
  port: number;
  targetName: string;
  /** `iscsi://127.0.0.1:<port>/<iqn>` */
  url: string;
  /** Where the tapes' images live (the changer's media home). */
  mediaDir: string;
  luns: { changer: number; drives: number[] };
  elements: { picker: number; drives: number[]; slots: number[]; mailslots: number[] };
  /** The image file of a tape. */
  tapePath(barcode: string): string;
  /** Makes a new blank tape image (not yet in the library: `insert` it). */
  newTape(tape: Omit<TgtTapeSpec, 'place'>): Promise<void>;
  /** What an operator does at the library's door: puts a tape into a mail slot, or takes it out. */
  insertIntoMailslot(barcode: string, index: number): Promise<void>;
  removeFromMailslot(index: number): Promise<void>;
  /** tgtadm against this tgtd (`-C <control> --lld iscsi` are added). */
  admin(args: string[]): Promise<string>;
  /** Lines tgtd printed (for a failing test's message). */
  log(): string;
  stop(): Promise<void>;
};

/** Why tgt cannot be used here, or null. */
export async function tgtUnavailable(): Promise<string | null> {
  for (const tool of ['tgtd', 'tgtadm', 'tgtimg']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      return `${tool} is missing: install Debian's tgt (.ci/run does)`;
    }
  }
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts tgtd and builds the library of `spec` in `dir` (made if missing). */
export async function startTgtLibrary(dir: string, spec: TgtLibrarySpec): Promise<TgtLibrary> {
  const drives = spec.drives ?? 2;
  const slots = spec.slots ?? 8;
  const mailslots = spec.mailslots ?? 2;
  const targetName = spec.targetName ?? 'iqn.2026-12.org.lifeboat.test:library';
  const mediaDir = join(dir, 'media');
  await mkdir(mediaDir, { recursive: true });
  const port = await freePort();
  // The control number (0-32767) only names tgtd's IPC socket. Loopback ports handed out by the
  // kernel are 32768 and up, so the port's remainder is unique among running tgtds.
  const control = port % 32768;
  const output: string[] = [];
  const child: ChildProcess = spawn('tgtd', ['-f', '-C', String(control), '--iscsi', `portal=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const admin = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run('tgtadm', ['-C', String(control), '--lld', 'iscsi', ...args]);
      return stdout;
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new Error(`tgtadm ${args.join(' ')}: ${stderr.trim()}`);
    }
  };
  const stop = async (): Promise<void> => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  try {
    // tgtd answers on its control socket once it is up.
    for (let attempt = 0; ; attempt++) {
      try {
        await run('tgtadm', ['-C', String(control), '--op', 'show', '--mode', 'system']);
        break;
      } catch (error) {
        if (attempt >= 100 || child.exitCode !== null) throw new Error(`tgtd did not start: ${output.join('')}`, { cause: error });
        await sleep(50);
      }
    }
    const newTape = async (tape: Omit<TgtTapeSpec, 'place'>): Promise<void> => {
      const file = join(mediaDir, tape.barcode);
      await run('tgtimg', [
        '--op',
        'new',
        '--device-type',
        'tape',
        `--barcode=${tape.barcode}`,
        `--size=${tape.sizeMiB}`,
        `--type=${tape.type ?? 'data'}`,
        `--file=${file}`,
      ]);
    };
    const lun = (n: number): string[] => ['--mode', 'logicalunit', '--tid', '1', '--lun', String(n)];
    const changerLun = drives + 1;
    const changerParams = (params: string): Promise<string> => admin(['--op', 'update', ...lun(changerLun), '--params', params]);

    await admin(['--op', 'new', '--mode', 'target', '--tid', '1', '-T', targetName]);
    // A drive LUN needs an image to be created with; it is taken offline at once (no medium).
    const placeholder = join(dir, 'drive-placeholder');
    await run('tgtimg', ['--op', 'new', '--device-type', 'tape', '--barcode=NOTAPE', '--size=1', '--type=data', `--file=${placeholder}`]);
    const driveLuns = Array.from({ length: drives }, (_, i) => i + 1);
    for (const driveLun of driveLuns) {
      await admin(['--op', 'new', ...lun(driveLun), '-b', placeholder, '--device-type=tape']);
      await admin(['--op', 'update', ...lun(driveLun), '--params', 'online=0']);
    }
    const changerStore = join(dir, 'changer');
    await writeFile(changerStore, Buffer.alloc(1024));
    await admin(['--op', 'new', ...lun(changerLun), '-b', changerStore, '--device-type=changer']);
    await changerParams(`media_home=${mediaDir}`);
    const elements = {
      picker: TGT_ADDRESSES.picker,
      drives: driveLuns.map((_, i) => TGT_ADDRESSES.firstDrive + i),
      slots: Array.from({ length: slots }, (_, i) => TGT_ADDRESSES.firstSlot + i),
      mailslots: Array.from({ length: mailslots }, (_, i) => TGT_ADDRESSES.firstMailslot + i),
    };
    await changerParams(`element_type=1,start_address=${elements.picker},quantity=1`);
    await changerParams(`element_type=4,start_address=${TGT_ADDRESSES.firstDrive},quantity=${drives}`);
    for (const [i, driveLun] of driveLuns.entries())
      await changerParams(`element_type=4,address=${elements.drives[i]},tid=1,lun=${driveLun}`);
    if (slots > 0) await changerParams(`element_type=2,start_address=${TGT_ADDRESSES.firstSlot},quantity=${slots}`);
    if (mailslots > 0) await changerParams(`element_type=3,start_address=${TGT_ADDRESSES.firstMailslot},quantity=${mailslots}`);

    let nextSlot = 0;
    const usedSlots = new Set(spec.tapes.flatMap((tape) => (tape.place?.kind === 'slot' ? [tape.place.index] : [])));
    for (const tape of spec.tapes) {
      await newTape(tape);
      const place: TgtTapePlace = tape.place ?? { kind: 'slot', index: freeSlot() };
      if (place.kind === 'slot')
        await changerParams(`element_type=2,address=${elements.slots[place.index]},barcode=${tape.barcode},sides=1`);
      if (place.kind === 'mailslot')
        await changerParams(`element_type=3,address=${elements.mailslots[place.index]},barcode=${tape.barcode},sides=1`);
    }
    function freeSlot(): number {
      while (usedSlots.has(nextSlot)) nextSlot++;
      if (nextSlot >= slots) throw new Error(`the library has ${slots} slots: too few for the tapes`);
      usedSlots.add(nextSlot);
      return nextSlot;
    }

    if (spec.chap) {
      await admin(['--mode', 'account', '--op', 'new', '--user', spec.chap.user, '--password', spec.chap.secret]);
      await admin(['--mode', 'account', '--op', 'bind', '--tid', '1', '--user', spec.chap.user]);
    }
    await admin(['--op', 'bind', '--mode', 'target', '--tid', '1', '-I', 'ALL']);

    const mailslotAddress = (index: number): number => {
      const address = elements.mailslots[index];
      if (address === undefined) throw new Error(`the library has ${mailslots} mail slots, not ${index + 1}`);
      return address;
    };
    return {
      host: '127.0.0.1',
      port,
      targetName,
      url: `iscsi://127.0.0.1:${port}/${targetName}`,
      mediaDir,
      luns: { changer: changerLun, drives: driveLuns },
      elements,
      tapePath: (barcode) => join(mediaDir, barcode),
      newTape,
      insertIntoMailslot: async (barcode, index) => {
        if (!existsSync(join(mediaDir, barcode))) throw new Error(`no image for tape ${barcode}: make it with newTape first`);
        await changerParams(`element_type=3,address=${mailslotAddress(index)},barcode=${barcode},sides=1`);
      },
      removeFromMailslot: async (index) => {
        await changerParams(`element_type=3,address=${mailslotAddress(index)},clear_slot=1`);
      },
      admin,
      log: () => output.join(''),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
