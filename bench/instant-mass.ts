// Mass Instant Recovery (issue 26 point 4): LIFEBOAT_BENCH_MASS_SESSIONS sessions (default 100)
// of LIFEBOAT_BENCH_MASS_VMS VMs (default 20, 32 MiB disks) started from one engine at once on
// vcsim. As each VM is powered on, its "guest" — an NFS v3 client in the guests' process, one TCP
// connection each (MNT, LOOKUP, READ: what a hypervisor does at power-on) — reads its flat disk
// from the start: the first 1 MiB READ timed from the power-on to its reply, then on to
// LIFEBOAT_BENCH_MASS_BOOT_MIB (default 1) like a boot, so the later sessions' first reads meet
// the earlier ones' reads and read-ahead.
// Printed: median / p95 / max first read (goal < 1 s each), the time to start them all, and the
// engine's memory (RSS, heap, array buffers) against its one block cache bound.
// Alone: LIFEBOAT_BENCH_ONLY=instant-mass npm run bench.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { flatVmFolder } from './vm-folder.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';

const MIB = 1024 * 1024;
const SESSIONS = Number(process.env.LIFEBOAT_BENCH_MASS_SESSIONS ?? '100');
const VMS = Number(process.env.LIFEBOAT_BENCH_MASS_VMS ?? '20');
const DISK_MIB = 32;
/** What each guest reads from the start of its disk, in order, as a boot would (default: the
 * first MiB only, the figure the goal is about). */
const BOOT_MIB = Math.max(1, Number(process.env.LIFEBOAT_BENCH_MASS_BOOT_MIB ?? '1'));

function percentile(values: number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)] ?? NaN;
}

/** A VM folder with one monolithicFlat disk: a third never written, a third random, a third text. */
async function makeVm(folder: string, name: string, seed: number): Promise<void> {
  await mkdir(folder, { recursive: true });
  const raw = join(folder, `${name}.raw`);
  const handle = await open(raw, 'w');
  await handle.truncate(DISK_MIB * MIB);
  for (let block = 0; block < DISK_MIB; block++) {
    const kind = (block + seed) % 3;
    if (kind === 0) continue;
    const data = kind === 1 ? randomBytes(MIB) : Buffer.alloc(MIB, `vm ${name} block ${block}: a line of a guest's log\n`);
    await handle.write(data, 0, MIB, block * MIB);
  }
  await handle.close();
  await flatVmFolder(folder, name, raw, '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd');
  await rm(raw);
}

type GuestAsk = { id: string; host: string; port: number; exportPath: string; names: string[]; bytes: number };

/** When (ms since the epoch) a guest had its ask, its connection, its MNT and LOOKUPs answered,
 * and the reply to its first 1 MiB READ. */
type GuestMarks = { askedAt: number; connectedAt: number; openedAt: number; firstMibAt: number };

/** The guests' process (instant-mass-guests.ts): `read` resolves with the guest's marks once
 * `bytes` came. */
function startGuests(): { read(ask: GuestAsk): Promise<GuestMarks>; stop(): void } {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'instant-mass-guests.ts')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map<string, { resolve(marks: GuestMarks): void; reject(error: Error): void }>();
  child.once('exit', (code) => {
    for (const [id, wait] of waiting) wait.reject(new Error(`the guests' process exited with ${code} before ${id} was read`));
    waiting.clear();
  });
  void (async () => {
    for await (const line of createInterface({ input: child.stdout })) {
      const answer = JSON.parse(line) as Partial<GuestMarks> & { id: string; error?: string };
      const wait = waiting.get(answer.id);
      waiting.delete(answer.id);
      if (answer.error !== undefined) wait?.reject(new Error(answer.error));
      else wait?.resolve({ askedAt: NaN, connectedAt: NaN, openedAt: NaN, firstMibAt: NaN, ...answer });
    }
  })();
  return {
    read: (ask) =>
      new Promise<GuestMarks>((resolve, reject) => {
        waiting.set(ask.id, { resolve, reject });
        child.stdin.write(`${JSON.stringify(ask)}\n`);
      }),
    stop: () => child.kill('SIGKILL'),
  };
}

/** The process's memory, sampled until stopped: the highest of each figure. */
function sampleMemory(): { stop(): { rss: number; heapUsed: number; arrayBuffers: number } } {
  const peak = { rss: 0, heapUsed: 0, arrayBuffers: 0 };
  const sample = (): void => {
    const now = process.memoryUsage();
    peak.rss = Math.max(peak.rss, now.rss);
    peak.heapUsed = Math.max(peak.heapUsed, now.heapUsed);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, now.arrayBuffers);
  };
  const timer = setInterval(sample, 50);
  sample();
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

export async function instantMass(root: string): Promise<void> {
  const missing = vcsimUnavailable();
  if (missing) {
    console.log(`  mass instant recovery: skipped (${missing})`);
    return;
  }
  const home = join(root, 'home-instant-mass');
  await mkdir(join(home, 'instant'), { recursive: true });
  const vc = await startVcsim({ cwd: join(home, 'instant') });
  const engine = await openServedEngine({ home });
  const after: (() => void)[] = [];
  try {
    const names = Array.from({ length: VMS }, (_, index) => `mass-${index}`);
    for (const [index, name] of names.entries()) await makeVm(join(root, 'mass-vms', name), name, index);
    const backups = await Promise.all(names.map(async (name) => engine.backups.start(join(root, 'mass-vms', name), 'bench')));
    for (const backup of await Promise.all(backups.map((job) => engine.jobs.whenEnded(job.id))))
      if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
    const guestProcess = startGuests();
    after.push(() => guestProcess.stop());
    const idle = process.memoryUsage();
    const memory = sampleMemory();
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const requested = performance.now();
    const started = await Promise.all(
      Array.from({ length: SESSIONS }, (_, index) =>
        engine.instant.start(
          { vm: names[index % VMS] as string, name: `mass-s${index}`, point: 'latest', host: 'vc', listen: '127.0.0.1:0' },
          'bench',
        ),
      ),
    );
    const guests = await Promise.all(
      started.map(async ({ job, session }) => {
        const ended = await engine.jobs.whenEnded(job.id);
        if (ended.state !== 'succeeded') throw new Error(`instant recovery failed: ${ended.error}`);
        const poweredOn = performance.now();
        // The port from the live server (instant.list() would make a summary of every session).
        const { address, port } = engine.instant.listenOf(session.id);
        const exportPath = new URL(session.nfsUrl).pathname;
        const names = [session.vmName, `${session.vmName}-flat.vmdk`];
        const marks = await guestProcess.read({ id: session.id, host: address, port, exportPath, names, bytes: BOOT_MIB * MIB });
        const since = (at: number): number => at - performance.timeOrigin - poweredOn;
        return {
          id: session.id,
          poweredOn: poweredOn - requested,
          firstRead: since(marks.firstMibAt),
          asked: since(marks.askedAt),
          connected: since(marks.connectedAt),
          opened: since(marks.openedAt),
        };
      }),
    );
    const allRead = performance.now() - requested;
    const peak = memory.stop();
    loopDelay.disable();
    const cache = engine.blockCache.stats();
    const firstReads = guests.map((guest) => guest.firstRead / 1000);
    const allStarted = Math.max(...guests.map((guest) => guest.poweredOn)) / 1000;
    const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;
    console.log(
      `  mass instant recovery          ${SESSIONS} sessions of ${VMS} VMs (${DISK_MIB} MiB disks) started at once: all powered on in ${allStarted.toFixed(1)} s; ` +
        `first NFS read (1 MiB) after power-on median ${percentile(firstReads, 0.5).toFixed(3)} s, p95 ${percentile(firstReads, 0.95).toFixed(3)} s, ` +
        `max ${percentile(firstReads, 1).toFixed(3)} s (goal < 1 s each); every guest read ${BOOT_MIB} MiB in ${(allRead / 1000).toFixed(1)} s`,
    );
    console.log(
      `  mass instant recovery memory   block cache bound ${mib(cache.maxBytes)} (kept at most ${mib(cache.peakBytes)}, ${cache.loads} decodes, ` +
        `${cache.hits} hits, ${cache.joined} joined, ${cache.evicted} evicted, ${cache.aheadDropped} read-ahead dropped); ` +
        `engine process peak RSS ${mib(peak.rss)} (idle ${mib(idle.rss)}), heap ${mib(peak.heapUsed)} (idle ${mib(idle.heapUsed)}), ` +
        `array buffers ${mib(peak.arrayBuffers)} (idle ${mib(idle.arrayBuffers)}); ` +
        `event loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
    );
    if (process.env.LIFEBOAT_BENCH_MASS_TRACE) {
      // When the engine counted each session's first READ, against when its guest had the first MiB.
      const listed = new Map(engine.instant.list().map((session) => [session.id, session]));
      for (const guest of guests) {
        const session = listed.get(guest.id);
        const servedAt = Date.parse(session?.createdAt ?? '') + (session?.firstReadSeconds ?? NaN) * 1000;
        const served = servedAt - performance.timeOrigin - requested - guest.poweredOn;
        console.log(
          `    ${guest.id.slice(0, 8)} powered on ${guest.poweredOn.toFixed(0)} ms; guest asked +${guest.asked.toFixed(0)}, connected +${guest.connected.toFixed(0)}, ` +
            `MNT+LOOKUPs answered +${guest.opened.toFixed(0)}, first READ served +${served.toFixed(0)}, first MiB at the guest +${guest.firstRead.toFixed(0)} ms`,
        );
      }
    }
    const stops = await Promise.all(guests.map(async (guest) => engine.jobs.whenEnded(engine.instant.stop(guest.id, 'bench').id)));
    for (const stop of stops) if (stop.state !== 'succeeded') throw new Error(`stop failed: ${stop.error}`);
  } finally {
    for (const stop of after) stop();
    await engine.close();
    await vc.stop();
    await rm(home, { recursive: true, force: true });
    await rm(join(root, 'mass-vms'), { recursive: true, force: true });
  }
}
