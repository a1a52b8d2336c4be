// A real guest for Instant Recovery tests and the bench (here, not under test/, so the bench may use it): a small bootable ext4 disk (busybox + an init script)
// made with the real tools, and QEMU booting it with Debian's kernel from a local file or from an
// NFS export (QEMU's NFS block driver is libnfs, a real NFS v3 client), its serial console read.
//
// The guest disk (raw, sparse):
//   /bin/busybox        copied from busybox-static; `busybox --install -s` makes the applets
//   /init               the script below (the kernel runs it as PID 1: `init=/init`)
//   /data/<name>        known random files; /sums is their `sha256sum` list (checked at boot)
//   /out/               what the guest writes
// The console protocol: every line the script prints starts with `LIFEBOAT-GUEST `:
//   booted · hashes-ok | hashes-bad · round <i> ok | round <i> bad · writes-done · tail-ok | tail-bad ·
//   wrote <name> <sha256> · dmesg <kernel error line> · end
// then the guest powers off (`poweroff -f`), which ends QEMU (`-no-reboot`).
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const KIB = 1024;
const MIB = 1024 * KIB;
export const GUEST_MARK = 'LIFEBOAT-GUEST';

/** Tools can be pointed elsewhere (or at nothing, to check the skip) with these variables. */
const qemuBinary = (): string => process.env.LIFEBOAT_QEMU_SYSTEM ?? 'qemu-system-x86_64';
const bootDir = (): string => process.env.LIFEBOAT_BOOT_DIR ?? '/boot';
const busyboxPath = (): string => process.env.LIFEBOAT_BUSYBOX ?? '/bin/busybox';

export type GuestWorkload =
  /** Writers in parallel (dd of odd sizes, fallocate'd files partly written, O_DIRECT writes),
   * sync, a removal and fstrim; the kernel zeroes the inode tables at mount (lazyinit). */
  | { kind: 'basic'; writers?: number; filesPerWriter?: number }
  /** `rounds` rounds of: write file i, sync, drop the page cache, read every file back and compare
   * its hash; `LIFEBOAT-GUEST round <i> ok` each round (the restart test kills the engine then). */
  | { kind: 'loop'; rounds: number; fileKib?: number; pauseSeconds?: number };

export type GuestDisk = {
  /** The raw disk image. */
  raw: string;
  sizeBytes: number;
  /** The known files under /data: name → SHA-256. */
  data: Record<string, string>;
  /** Kernel command line additions this workload needs. */
  append: string;
  workload: GuestWorkload;
};

/** The skip reason when a real guest cannot be booted here, or null. */
export function guestUnavailable(): string | null {
  if (!onPath(qemuBinary())) return `${qemuBinary()} is missing: install qemu-system-x86 and qemu-block-extra (.ci/run does)`;
  const nfsDriver = ['/usr/lib/x86_64-linux-gnu/qemu/block-nfs.so', '/usr/lib/qemu/block-nfs.so'];
  if (!nfsDriver.some((path) => existsSync(path))) return "QEMU's NFS block driver (block-nfs.so) is missing: install qemu-block-extra";
  if (!kernel()) return `no ${bootDir()}/vmlinuz-* with its initrd.img-*: install linux-image-amd64 and initramfs-tools`;
  if (!existsSync(busyboxPath())) return `${busyboxPath()} is missing: install busybox-static`;
  for (const tool of ['mke2fs', 'debugfs']) if (!onPath(tool)) return `${tool} is missing: install e2fsprogs`;
  return null;
}

/** Root is needed where the export must listen on 2049 and the portmapper on 111 (QEMU's NFS
 * client finds MOUNT and NFS only through the portmapper). */
export function portsUnavailable(): string | null {
  return process.getuid?.() === 0 ? null : 'not root: NFS on 2049 and the portmapper on 111 cannot be bound';
}

function onPath(tool: string): boolean {
  if (tool.includes('/')) return existsSync(tool);
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, tool)));
}

/** The newest /boot/vmlinuz-V that has its /boot/initrd.img-V. */
export function kernel(): { vmlinuz: string; initrd: string } | null {
  let names: string[];
  try {
    names = readdirSync(bootDir());
  } catch {
    return null;
  }
  const versions = names
    .filter((name) => name.startsWith('vmlinuz-') && names.includes(`initrd.img-${name.slice('vmlinuz-'.length)}`))
    .map((name) => name.slice('vmlinuz-'.length))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions.at(-1);
  return version ? { vmlinuz: join(bootDir(), `vmlinuz-${version}`), initrd: join(bootDir(), `initrd.img-${version}`) } : null;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Builds the guest disk under `dir` (guest.raw plus the root folder it was made from). */
export async function buildGuestDisk(
  dir: string,
  options: {
    workload: GuestWorkload;
    sizeBytes?: number;
    /** Bytes at the end of the disk left out of the file system; the guest writes them raw (through
     * /dev/vda, buffered and O_DIRECT, up to the disk's last sector), discards and reads them back. */
    tailBytes?: number;
  },
): Promise<GuestDisk> {
  const sizeBytes = options.sizeBytes ?? 512 * MIB;
  const tailBytes = options.tailBytes ?? 0;
  const fsBytes = sizeBytes - tailBytes;
  if (tailBytes < 0 || tailBytes % 512 !== 0 || fsBytes < 64 * MIB) throw new Error('tailBytes: sectors, leaving at least 64 MiB');
  const root = join(dir, 'guest-root');
  for (const sub of ['bin', 'data', 'out', 'proc', 'sys', 'dev', 'tmp']) await mkdir(join(root, sub), { recursive: true });
  await copyFile(busyboxPath(), join(root, 'bin', 'busybox'));
  // Sizes: tiny, not a multiple of 4 KiB, exactly 1 MiB, over 1 MiB and not aligned, several MiB.
  const sizes: Record<string, number> = {
    'tiny.bin': 100,
    'odd.bin': 3 * 4096 + 17,
    'mib.bin': MIB,
    'big.bin': MIB + 123_457,
    'large.bin': 5 * MIB + 4095,
  };
  const data: Record<string, string> = {};
  for (const [name, size] of Object.entries(sizes)) {
    const bytes = randomBytes(size);
    await writeFile(join(root, 'data', name), bytes);
    data[name] = sha256(bytes);
  }
  await writeFile(
    join(root, 'sums'),
    Object.entries(data)
      .map(([name, sum]) => `${sum}  ${name}\n`)
      .join(''),
  );
  await writeFile(join(root, 'init'), initScript(options.workload, tailBytes > 0 ? { firstSector: Math.ceil(fsBytes / 512) } : null), {
    mode: 0o755,
  });
  const raw = join(dir, 'guest.raw');
  // nodiscard: mke2fs writes nothing it need not (the image stays sparse); lazy_itable_init: the
  // guest kernel zeroes the inode tables itself (rootflags=init_itable=0 makes it do so at once).
  execFileSync('mke2fs', [
    '-q',
    '-F',
    '-t',
    'ext4',
    '-E',
    'nodiscard,lazy_itable_init=1',
    '-d',
    root,
    raw,
    `${Math.floor(fsBytes / KIB)}k`,
  ]);
  if (tailBytes > 0 || sizeBytes % KIB !== 0) execFileSync('truncate', ['-s', String(sizeBytes), raw]);
  const append = options.workload.kind === 'basic' ? 'rootflags=init_itable=0' : '';
  return { raw, sizeBytes, data, append, workload: options.workload };
}

function initScript(workload: GuestWorkload, tail: { firstSector: number } | null): string {
  const say = (text: string): string => `echo "${GUEST_MARK} ${text}"`;
  const head = [
    '#!/bin/busybox sh',
    '/bin/busybox --install -s /bin',
    'export PATH=/bin',
    'mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null',
    say('booted'),
    `cd /data && if sha256sum -c -s /sums; then ${say('hashes-ok')}; else ${say('hashes-bad')}; fi`,
  ];
  const end = [
    'sync',
    'cd /out',
    `for f in *; do [ -f "$f" ] && ${say('wrote $f $(sha256sum "$f" | cut -d" " -f1)')}; done`,
    // The kernel's own account, in case a line did not reach the console (ratelimited printks).
    `dmesg | grep -i -E "I/O error|EXT4-fs (error|warning)|Buffer I/O|blk_update_request" | grep -v "dev fd0" | while read -r line; do ${say('dmesg $line')}; done`,
    say('end'),
    'poweroff -f',
  ];
  return [...head, ...workloadLines(workload, say), ...(tail ? tailLines(tail.firstSector, say) : []), ...end, ''].join('\n');
}

function workloadLines(workload: GuestWorkload, say: (text: string) => string): string[] {
  if (workload.kind === 'loop') {
    const kib = workload.fileKib ?? 1024;
    return [
      'i=1',
      `while [ $i -le ${workload.rounds} ]; do`,
      `  dd if=/dev/urandom of=/out/r$i bs=1k count=${kib} 2>/dev/null`,
      '  sha256sum /out/r$i >> /tmp/sums',
      '  sync',
      // Drop the page cache so the read-back comes from the disk (the export), not from memory.
      '  echo 3 > /proc/sys/vm/drop_caches',
      `  if (cd / && sha256sum -c -s /tmp/sums); then ${say('round $i ok')}; else ${say('round $i bad')}; fi`,
      `  sleep ${workload.pauseSeconds ?? 1}`,
      '  i=$((i+1))',
      'done',
      say('writes-done'),
    ];
  }
  const writers = workload.writers ?? 4;
  const files = workload.filesPerWriter ?? 12;
  return [
    `for p in $(seq 1 ${writers}); do (`,
    '  i=0',
    `  while [ $i -lt ${files} ]; do`,
    // Odd sizes: partial blocks, multi-MiB writes the client splits, and O_DIRECT writes.
    '    dd if=/dev/urandom of=/out/p${p}w$i bs=$((i*37+5))k count=$((i%4+1)) 2>/dev/null',
    '    dd if=/dev/urandom of=/out/p${p}d$i bs=64k count=$((i%3+1)) oflag=direct 2>/dev/null',
    // fallocate'd (unwritten extents), then partly written in the middle.
    '    fallocate -l $((i*300+64))k /out/p${p}f$i',
    '    dd if=/dev/urandom of=/out/p${p}f$i bs=4096 seek=$((i+1)) count=3 conv=notrunc 2>/dev/null',
    '    cat /data/big.bin > /dev/null',
    '    [ $((i%4)) = 3 ] && sync',
    '    i=$((i+1))',
    '  done',
    '  sync',
    ') & done',
    'wait',
    // Freed blocks become discards (fstrim); a journal commit follows.
    'rm -f /out/p1w*',
    'sync; fstrim / 2>/dev/null; sync',
    say('writes-done'),
  ];
}

/** Raw writes to the sectors after the file system, up to the disk's last one: buffered (the
 * kernel writes whole 4 KiB pages, the last one possibly short), O_DIRECT 512-byte sectors and
 * 64 KiB pieces that straddle the backup's 1 MiB blocks, a discard, then a read-back from the disk. */
function tailLines(firstSector: number, say: (text: string) => string): string[] {
  return [
    'total=$(cat /sys/block/vda/size)',
    `first=${firstSector}`,
    'count=$((total-first))',
    'dd if=/dev/urandom of=/tmp/tail bs=512 count=$count 2>/dev/null',
    'dd if=/tmp/tail of=/dev/vda bs=512 seek=$first conv=notrunc,fsync 2>/dev/null',
    'dd if=/dev/urandom of=/tmp/last bs=512 count=3 2>/dev/null',
    'dd if=/tmp/last of=/dev/vda bs=512 seek=$((total-3)) oflag=direct conv=notrunc 2>/dev/null',
    'dd if=/tmp/last of=/tmp/tail bs=512 seek=$((count-3)) conv=notrunc 2>/dev/null',
    'if [ $count -ge 2200 ]; then',
    '  dd if=/dev/urandom of=/tmp/mid bs=64k count=1 2>/dev/null',
    '  dd if=/tmp/mid of=/dev/vda bs=64k seek=$(((first+2048-64)*512)) oflag=direct,seek_bytes conv=notrunc 2>/dev/null',
    '  dd if=/tmp/mid of=/tmp/tail bs=512 seek=$((2048-64)) conv=notrunc 2>/dev/null',
    'fi',
    'sync; echo 3 > /proc/sys/vm/drop_caches',
    `if dd if=/dev/vda bs=512 skip=$first count=$count iflag=direct 2>/dev/null | cmp -s - /tmp/tail; then ${say('tail-ok')}; else ${say('tail-bad')}; fi`,
    'blkdiscard -o $((first*512)) -l $((count*512)) /dev/vda 2>/dev/null',
    'sync',
  ];
}

export type GuestRun = {
  lines: string[];
  /** Each marker's text (after `LIFEBOAT-GUEST `) with the ms since QEMU started. */
  markers: { text: string; atMs: number }[];
  /** Kernel lines about I/O errors, vda or EXT4 trouble (the floppy probe's `dev fd0` ignored). */
  errors: string[];
  /** name → SHA-256 of what the guest wrote. */
  wrote: Record<string, string>;
  timedOut: boolean;
  /** Ended early by the caller's signal. */
  aborted: boolean;
  exit: { code: number | null; signal: string | null };
  durationMs: number;
};

export const hasMarker = (run: GuestRun, text: string): boolean => run.markers.some((marker) => marker.text === text);
export const markerMs = (run: GuestRun, text: string): number | null => run.markers.find((marker) => marker.text === text)?.atMs ?? null;

const ERROR_LINE =
  /I\/O error|Buffer I\/O|blk_update_request|EXT4-fs (error|warning)|EXT4-fs.*(abort|remount)|JBD2|\bvda\b.*(error|fail)|nfs.*(error|fail)/i;

/** A short summary for assertion messages: the markers, the errors, and the console's last lines. */
export function describeRun(run: GuestRun): string {
  return [
    `markers: ${run.markers
      .filter((marker) => !marker.text.startsWith('wrote '))
      .map((marker) => marker.text)
      .join(' · ')} (${Object.keys(run.wrote).length} files written)`,
    `errors: ${run.errors.length === 0 ? 'none' : run.errors.join(' | ')}`,
    `exit: ${JSON.stringify(run.exit)}${run.timedOut ? ' (timed out, killed)' : ''}${run.aborted ? ' (stopped early by the test, killed)' : ''} after ${run.durationMs} ms`,
    'last console lines:',
    ...run.lines.slice(-25),
  ].join('\n');
}

/** Boots the guest from `drive` (an nfs:// URL or a local raw file) and collects its console until
 * it powers off or `timeoutMs` passes; QEMU is always killed before this returns. */
export async function bootGuest(options: {
  drive: string;
  timeoutMs: number;
  append?: string;
  /** Extra `-drive` options, such as `cache=none` or `discard=unmap`. */
  driveOptions?: string;
  onLine?: (line: string) => void;
  /** Virtual CPUs (default 1): more let the guest keep more requests in flight at once. */
  cpus?: number;
  /** Ends the boot early (QEMU is killed), as the timeout does. */
  signal?: AbortSignal;
}): Promise<GuestRun> {
  const found = kernel();
  if (!found) throw new Error(guestUnavailable() ?? 'no kernel');
  const append = ['root=/dev/vda rw console=ttyS0 init=/init quiet panic=-1', options.append ?? ''].join(' ').trim();
  const drive = `file=${options.drive.replaceAll(',', ',,')},format=raw,if=virtio${options.driveOptions ? `,${options.driveOptions}` : ''}`;
  const args = [
    // -nodefaults: no floppy (its probe logs a harmless `I/O error, dev fd0`), no VGA, no NIC.
    ...[
      '-accel',
      'tcg',
      '-m',
      '512',
      '-smp',
      String(options.cpus ?? 1),
      '-no-reboot',
      '-nodefaults',
      '-display',
      'none',
      '-monitor',
      'none',
      '-serial',
      'stdio',
    ],
    ...['-kernel', found.vmlinuz, '-initrd', found.initrd, '-append', append, '-drive', drive],
  ];
  const started = Date.now();
  const child = spawn(qemuBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const run: GuestRun = {
    lines: [],
    markers: [],
    errors: [],
    wrote: {},
    timedOut: false,
    aborted: false,
    exit: { code: null, signal: null },
    durationMs: 0,
  };
  let pending = '';
  const take = (line: string): void => {
    const clean = line.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    run.lines.push(clean);
    options.onLine?.(clean);
    const mark = clean.indexOf(`${GUEST_MARK} `);
    if (mark >= 0) {
      const text = clean.slice(mark + GUEST_MARK.length + 1).trim();
      run.markers.push({ text, atMs: Date.now() - started });
      const wrote = /^wrote (\S+) ([0-9a-f]{64})$/.exec(text);
      if (wrote) run.wrote[wrote[1] as string] = wrote[2] as string;
    }
    if (ERROR_LINE.test(clean) && !/dev fd0/.test(clean)) run.errors.push(clean);
  };
  const onData = (chunk: Buffer): void => {
    pending += chunk.toString('latin1');
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) take(part);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) take(`qemu: ${line}`);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      run.exit = { code, signal };
      resolve();
    });
    child.once('error', (error) => {
      take(`qemu: ${error.message}`);
      resolve();
    });
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        run.timedOut = true;
        resolve();
      }, options.timeoutMs);
    });
    const aborted = new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([exited, timedOut, aborted]);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) {
      run.aborted = !run.timedOut && (options.signal?.aborted ?? false);
      child.kill('SIGKILL');
      await exited;
    }
    if (pending) take(pending);
    run.durationMs = Date.now() - started;
  }
  return run;
}

/** Copies files out of an ext4 image with debugfs (no mount, no root); name → SHA-256, or null
 * for a file that is not there. */
export async function hashesInImage(
  image: string,
  folder: string,
  names: string[],
  scratch: string,
): Promise<Record<string, string | null>> {
  await mkdir(scratch, { recursive: true });
  const hashes: Record<string, string | null> = {};
  for (const name of names) {
    const out = join(scratch, name);
    execFileSync('debugfs', ['-R', `dump ${folder}/${name} ${out}`, image], { stdio: 'ignore' });
    const present = (await readdir(scratch)).includes(name);
    hashes[name] = present ? sha256(await readFile(out)) : null;
  }
  return hashes;
}

/** Keeps what is needed to replay a failed boot under /tmp/guest-failures/<label>-<time>: the
 * serial log, the init script, the workload, and a sparse copy of the disk as it was built. */
export async function saveFailure(label: string, run: GuestRun, disk: GuestDisk, drive: string): Promise<string> {
  const folder = join('/tmp/guest-failures', `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'serial.log'), run.lines.join('\n'));
  await writeFile(
    join(folder, 'run.json'),
    JSON.stringify({ drive, disk, errors: run.errors, markers: run.markers, exit: run.exit }, null, 2),
  );
  execFileSync('cp', ['--sparse=always', disk.raw, join(folder, 'guest.raw')]);
  return folder;
}
