// End to end through `lifeboat serve` as a user runs it: the real CLI process, its WebSocket and
// local socket, and the real console in Debian's Chromium driven by Playwright.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright';
import { cancelJobs, measureQueue, queueJobs } from '../../bench/queue-load.ts';
import WebSocket from 'ws';
import { makeVmFolder, qemuImg, reflinkFolder, tempDir, until, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHostWithCli, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';
import { axeViolations, launchChromium, pageErrors } from '../helpers/console-browser.ts';
import { buildUbuntuServer } from '../helpers/server-disks.ts';
import { startTgtLibrary, tgtUnavailable } from '../../scripts/peers/tgt.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');

const dir = await tempDir();
const home = join(dir, 'home');
let server: ChildProcess | null = null;
let consoleUrl = '';
let browser: Browser | null = null;
let consolePage: Page | null = null;

async function lifeboat(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [cli, '--home', home, ...args], { timeout: 120_000 });
}

const ANN_PASSWORD = 'ann-console-password';
const vcsimMissing = vcsimUnavailable();
const tgtMissing = await tgtUnavailable();
// Started here, not in before(): its after() hook must belong to the file, not to that hook.
// NAS datastores (Instant Recovery) resolve in vcsim's working folder: the home's export folders.
await mkdir(join(home, 'instant'), { recursive: true });
const vc: Vcsim | null = vcsimMissing ? null : await startVcsim({ cwd: join(home, 'instant') });
// A storage array's folder must share blocks: a loop-mounted XFS (root and xfsprogs).
const xfs = await reflinkFolder(512);

before(async () => {
  await lifeboat('lab', 'create', '--vms', '2', '--points', '2', '--disk-mib', '32');
  // A tape library whose first tape holds both VMs and is then taken offline.
  await lifeboat(
    'tape',
    'library',
    'create',
    '--slots',
    '8',
    '--drives',
    '2',
    '--mailslots',
    '2',
    '--tapes',
    '4',
    '--capacity-mib',
    '256',
    '--time-scale',
    '0.001',
  );
  await lifeboat('tape', 'backup', 'lab-web-01', 'lab-db-02', '--pool', 'weekly');
  await lifeboat('tape', 'eject', 'LB0001L9');
  // The browser console signs in with an account; the OS user running the CLI makes it.
  await run(process.execPath, [cli, '--home', home, 'accounts', 'add', 'ann', '--role', 'administrator', '--password-env', 'LB_TEST_ANN'], {
    env: { ...process.env, LB_TEST_ANN: ANN_PASSWORD },
  });
  server = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  consoleUrl = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('serve printed no URL in 30 s')), 30_000);
    server?.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    });
    server?.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  if (vc) await addSimulatorHostWithCli(home, vc);
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
});

function origin(): string {
  return new URL(consoleUrl).origin;
}

function openSocket(headers: Record<string, string>): Promise<{ socket: WebSocket; frames: unknown[]; status?: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${origin().replace('http', 'ws')}/rpc`, { headers });
    const frames: unknown[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(data.toString())));
    socket.on('open', () => resolve({ socket, frames }));
    socket.on('unexpected-response', (_request, response) => resolve({ socket, frames, status: response.statusCode }));
    socket.on('error', () => undefined);
  });
}

test('the WebSocket refuses a foreign Origin, a wrong token, and requests before hello', async () => {
  const foreign = await openSocket({ origin: 'http://evil.example' });
  assert.equal(foreign.status, 403);
  const wrong = await openSocket({ origin: origin() });
  wrong.socket.send(JSON.stringify({ type: 'hello', token: 'guess' }));
  const refusal = await until('refusal', () => wrong.frames[0] as { type: string; error: { code: string } } | undefined);
  assert.equal(refusal.type, 'fatal');
  assert.equal(refusal.error.code, 'unauthorized');
  const silent = await openSocket({ origin: origin() });
  silent.socket.send('{"type":"request","id":1,"channel":"vms.list","payload":{}}');
  const first = await until('fatal', () => silent.frames[0] as { type: string } | undefined);
  assert.equal(first.type, 'fatal', 'requests before hello are refused');
});

test('the CLI finds the running engine on the home socket', async () => {
  const { stdout } = await lifeboat('vms', '--json');
  const vms = JSON.parse(stdout) as { name: string; pointCount: number }[];
  assert.deepEqual(
    vms.map((vm) => [vm.name, vm.pointCount]),
    [
      ['lab-db-02', 2],
      ['lab-web-01', 2],
    ],
  );
  await assert.rejects(
    lifeboat('restore', 'vm', 'nope', '--point', 'latest', '--target', `local:${join(dir, 'n')}`),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /^lifeboat: no VM "nope" in the catalog/);
      return true;
    },
  );
});

test('an operator restores a VM with the wizard and watches the job finish', async () => {
  const page = await (browser as Browser).newPage();
  // Nothing the browser complains of: no policy it cannot parse, no file it cannot fetch (the icon).
  const errors = pageErrors(page);
  await page.goto(consoleUrl);
  // After the URL's token, the console asks who you are; nothing else shows before that.
  await page.getByRole('heading', { name: 'Sign in to Lifeboat' }).waitFor();
  assert.deepEqual(await axeViolations(page, 'sign-in form'), []);
  await page.screenshot({ path: join(screenshots, 'console-sign-in-light.png') });
  // And in the dark theme: the class the masthead's switch sets (there is no masthead before sign-in).
  await page.evaluate(() => document.documentElement.classList.add('pf-v6-theme-dark'));
  assert.deepEqual(await axeViolations(page, 'sign-in form, dark'), []);
  await page.screenshot({ path: join(screenshots, 'console-sign-in-dark.png') });
  await page.evaluate(() => document.documentElement.classList.remove('pf-v6-theme-dark'));
  await page.getByLabel('User').fill('ann');
  await page.getByLabel('Password').fill('not her password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong user name or password' }).waitFor();
  await page.getByLabel('Password').fill(ANN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('status', { name: 'Signed in' }).filter({ hasText: 'ann (administrator, local account)' }).waitFor();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor(); // Home, the first view
  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: 'lab-web-01', exact: true }).check();
  // The latest point is the default: #2, an incremental.
  await page
    .getByLabel('Restore point of lab-web-01')
    .getByText(/Latest: #2 incremental/)
    .waitFor({ state: 'attached' });
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  const target = join(dir, 'wizard-restore');
  await page.getByLabel(/Target folder/).fill(target);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/New VM name/).fill('web-restored');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'web-restored' }).waitFor({ timeout: 60_000 });
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, 'console-restore.png'), fullPage: true });
  assert.deepEqual(errors, []);
  assert.match(qemuImg('compare', join(home, 'lab', 'lab-web-01', 'lab-web-01.vmdk'), join(target, 'web-restored.vmdk')), /identical/);
  await page.reload();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor();
  // The tab keeps its session key; later tests go on in it (the URL's token was used once).
  consolePage = page;
});

/** Restore VM → the VM → its latest point → target: a vSphere host. */
async function wizardToVsphereTarget(page: Page, vm: string): Promise<void> {
  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: vm, exact: true }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: /A vSphere host/ }).check();
}

test('an operator restores a VM to vSphere with the wizard', { skip: vcsimMissing ?? false }, async () => {
  const simulator = vc as Vcsim;
  const page = consolePage as Page;
  await wizardToVsphereTarget(page, 'lab-db-02');
  await page.getByLabel('Datastore', { exact: true }).selectOption('LocalDS_1');
  await page.getByLabel('Disk format', { exact: true }).selectOption('thick');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/New VM name/).fill('db-on-vsphere');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText(/vc, datastore LocalDS_1, thick, transport auto/).waitFor();
  await page.getByRole('button', { name: 'Start restore' }).click();
  // The new job opens beside the queue, not the one selected before.
  await page
    .getByRole('complementary')
    .getByText(/db-on-vsphere/)
    .first()
    .waitFor();
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'db-on-vsphere' }).waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(screenshots, 'console-restore-vsphere.png'), fullPage: true });
  const restored = join(simulator.datastores.LocalDS_1 as string, 'db-on-vsphere', 'db-on-vsphere.vmdk');
  assert.match(qemuImg('compare', join(home, 'lab', 'lab-db-02', 'lab-db-02.vmdk'), restored), /identical/);
});

test('an operator rolls a VM back in place after reading what will be replaced', { skip: vcsimMissing ?? false }, async () => {
  const simulator = vc as Vcsim;
  await lifeboat('restore', 'vm', 'lab-db-02', '--point', 'latest', '--target', 'vsphere:vc', '--datastore', 'LocalDS_1');
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: 'lab-db-02', exact: true }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: /Original location: replace the disks of lab-db-02/ }).check();
  await page.getByText('[LocalDS_1] lab-db-02/lab-db-02.vmdk (32.0 MiB) is replaced by scsi0:0 of the restore point').waitFor();
  assert.equal(await page.getByRole('button', { name: 'Next' }).isDisabled(), true, 'nothing happens before the operator confirms');
  await page.getByRole('checkbox', { name: 'Replace these disks' }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  // A rollback in place says why (the audit log keeps it).
  await page.getByLabel(/^Reason/).fill('roll back the bad upgrade');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'Roll lab-db-02 back in place' }).waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(screenshots, 'console-original-location.png'), fullPage: true });
  assert.match(
    qemuImg(
      'compare',
      join(home, 'lab', 'lab-db-02', 'lab-db-02.vmdk'),
      join(simulator.datastores.LocalDS_1 as string, 'lab-db-02', 'lab-db-02.vmdk'),
    ),
    /identical/,
  );
});

test('an operator runs a VM instantly from its backup, sees the session, and stops it', { skip: vcsimMissing ?? false }, async () => {
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Instant Recovery', exact: true }).click();
  await page.getByLabel('VM', { exact: true }).selectOption('lab-web-01');
  await page.getByLabel('vSphere host', { exact: true }).selectOption('vc');
  await page.getByLabel(/Run it as/).fill('web-instant');
  await page.getByLabel(/NFS server listens on/).fill('127.0.0.1:0');
  await page.getByRole('button', { name: 'Start Instant Recovery' }).click();
  const row = page.locator('tr[data-session]').filter({ hasText: 'web-instant' });
  await row.locator('td[data-state="running"]').waitFor({ timeout: 60_000 });
  const [session] = (
    JSON.parse((await lifeboat('--json', 'instant', 'list')).stdout) as { name: string; nfsUrl: string; vmName: string }[]
  ).filter((listed) => listed.name === 'web-instant');
  assert.ok(session);
  const url = new URL(session.nfsUrl);
  const copied = join(dir, 'instant-disk.raw');
  await run('nfs-cp', [`nfs://${url.host}${url.pathname}/lab-web-01/lab-web-01-flat.vmdk${url.search}`, copied], { timeout: 60_000 });
  assert.match(qemuImg('compare', '-F', 'raw', join(home, 'lab', 'lab-web-01', 'lab-web-01.vmdk'), copied), /identical/);
  await row.locator('td', { hasText: '/s' }).first().filter({ hasNotText: '(0 B)' }).waitFor({ timeout: 10_000 });
  await page.screenshot({ path: join(screenshots, 'console-instant-recovery.png'), fullPage: true });
  await row.getByRole('button', { name: 'Stop web-instant' }).click();
  await row.getByRole('button', { name: 'Yes, stop it' }).click();
  await row.locator('td[data-state="stopped"]').waitFor({ timeout: 60_000 });
});

test('an operator restores a VM from a clone of a storage snapshot and sees the clone come and go', { skip: xfs.skip }, async () => {
  const page = consolePage as Page;
  const { stdout } = await lifeboat(
    '--json',
    'array',
    'create',
    'array1',
    '--path',
    join(xfs.path as string, 'array1'),
    '--time-scale',
    '0.2',
  );
  const volume = (JSON.parse(stdout) as { volume: { folder: string } }).volume.folder;
  await run('cp', ['-r', join(home, 'lab', 'lab-web-01'), join(volume, 'lab-web-01')]);
  await page.getByRole('button', { name: 'Arrays', exact: true }).click();
  await page.getByRole('button', { name: 'Take a snapshot of vol1' }).click();
  const row = page.locator('tr[data-snapshot]');
  await row.getByLabel('lab-web-01').check();
  await row.getByLabel('Restore to folder').fill(join(dir, 'from-snapshot'));
  await row.getByRole('button', { name: /Restore 1 VM\(s\) from a clone/ }).click();
  await page
    .locator('.job[data-state="succeeded"]')
    .filter({ hasText: /from snapshot snap-/ })
    .waitFor({ timeout: 60_000 });
  assert.match(
    qemuImg('compare', join(home, 'lab', 'lab-web-01', 'lab-web-01.vmdk'), join(dir, 'from-snapshot', 'lab-web-01.vmdk')),
    /identical/,
  );
  await page.getByRole('button', { name: 'Arrays', exact: true }).click();
  await page.getByText('No live clones.').waitFor();
  await page.getByText(/1 made so far/).waitFor();
  await page.screenshot({ path: join(screenshots, 'console-arrays.png'), fullPage: true });
  // The restore wizard offers the snapshot tier first, and restores from a clone of it.
  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: 'lab-web-01', exact: true }).check();
  const pointChoice = page.getByLabel('Restore point of lab-web-01');
  // Right after the latest point comes the snapshot tier, the fastest.
  assert.match((await pointChoice.locator('option').nth(1).textContent()) ?? '', /Storage snapshot snap-.*snapshot tier, fastest/);
  await pointChoice.selectOption({ index: 1 });
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel(/Target folder/).fill(join(dir, 'wizard-from-snapshot'));
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText(/through a clone/).waitFor();
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page
    .locator('.job[data-state="succeeded"]')
    .filter({ hasText: /wizard-from-snapshot/ })
    .waitFor({ timeout: 60_000 });
  assert.match(
    qemuImg('compare', join(home, 'lab', 'lab-web-01', 'lab-web-01.vmdk'), join(dir, 'wizard-from-snapshot', 'lab-web-01.vmdk')),
    /identical/,
  );
});

test('an operator browses a restore point, previews a file, searches, and restores picked items', async () => {
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Files', exact: true }).click();
  await page.getByLabel('Virtual machine', { exact: true }).selectOption({ label: 'lab-web-01' });
  await page.getByRole('button', { name: 'Expand disk0' }).click();
  await page.getByRole('button', { name: 'Expand part1' }).click();
  await page.getByRole('button', { name: 'Expand home' }).click();
  await page.getByRole('button', { name: 'Expand operator' }).click();
  await page.getByRole('button', { name: 'notes.txt', exact: true }).click();
  await page.getByLabel('Preview of /disk0/part1/home/operator/notes.txt').getByText('Restore drills every quarter.').waitFor();
  await page.getByRole('searchbox').fill('hostname');
  await page.getByLabel('Search results').getByText('/disk0/part2/etc/hostname').first().waitFor();
  await page.getByRole('checkbox', { name: 'Pick /disk0/part1/home/operator/notes.txt' }).check();
  await page.getByRole('checkbox', { name: 'Pick /disk0/part1/etc' }).check();
  const target = join(dir, 'picked-in-console');
  await page.getByLabel('Into folder').fill(target);
  await page.screenshot({ path: join(screenshots, 'console-files.png'), fullPage: true });
  await page.getByRole('button', { name: 'Restore items' }).click();
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'Restore 2 item(s) of lab-web-01' }).waitFor({ timeout: 60_000 });
  assert.equal(await readFile(join(target, 'notes.txt'), 'utf8'), 'Restore drills every quarter.\n');
  assert.equal(await readFile(join(target, 'etc', 'hostname'), 'utf8'), 'lab-web-01\n');
});

test(
  'the Files view shows an LVM2 logical volume under /lvm and picks only inside it',
  { skip: process.getuid?.() !== 0 ? 'needs root: LVM2 volumes are made on loop devices' : false },
  async () => {
    const page = consolePage as Page;
    const ubuntu = await buildUbuntuServer(join(dir, 'ubuntu'), 'ubuntu-srv');
    await lifeboat('backup', `local:${ubuntu.folder}`);
    await page.getByRole('button', { name: 'Files', exact: true }).click();
    await page.getByLabel('Virtual machine', { exact: true }).selectOption({ label: 'ubuntu-srv' });
    await page.getByRole('button', { name: 'Expand lvm' }).click();
    await page.getByRole('button', { name: 'Expand ubuntu-vg' }).click();
    await page.getByRole('button', { name: 'Expand ubuntu-lv' }).click();
    await page.getByRole('button', { name: 'Expand etc' }).click();
    await page.getByRole('button', { name: 'hostname', exact: true }).click();
    await page.getByLabel('Preview of /lvm/ubuntu-vg/ubuntu-lv/etc/hostname').getByText('ubuntu-srv').waitFor();
    // The volume itself is not an item; what is inside it is.
    assert.equal(await page.getByRole('checkbox', { name: 'Pick /lvm/ubuntu-vg/ubuntu-lv', exact: true }).count(), 0);
    await page.getByRole('checkbox', { name: 'Pick /lvm/ubuntu-vg/ubuntu-lv/etc', exact: true }).waitFor();
    await page.screenshot({ path: join(screenshots, 'console-files-lvm.png'), fullPage: true });
  },
);

/** Presses Tab until the focused element matches (bounded), as a keyboard-only operator would. */
async function tabTo(page: Page, what: string, matches: string): Promise<void> {
  for (let presses = 0; presses < 60; presses++) {
    if (await page.evaluate((selector) => document.activeElement?.matches(selector) ?? false, matches)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${what}`);
}

test('the restore wizard works from the keyboard alone', async () => {
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Restore VM', exact: true }).focus();
  await page.keyboard.press('Enter');
  await tabTo(page, 'a VM', 'input[type=checkbox][id^=wizard-vm-]');
  await page.keyboard.press('Space');
  await page.keyboard.press('Enter');
  // The next step has the focus (after the engine's check: the focus must not fall to the page).
  await page.getByRole('group', { name: 'Restore mode' }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.closest('.wizard-step') !== null), true, 'focus is in the new step');
  await page.keyboard.press('Enter');
  await page.getByRole('group', { name: 'Target' }).waitFor();
  await tabTo(page, 'the target folder', 'input[name=target]');
  const target = join(dir, 'keyboard-restore');
  await page.keyboard.type(target);
  await page.keyboard.press('Enter');
  await page.getByRole('group', { name: 'Name and identity' }).waitFor();
  await tabTo(page, 'the new name', 'input[name=newName]');
  await page.keyboard.type('typed-restore');
  await page.keyboard.press('Enter');
  await page.getByRole('group', { name: 'Power on and reason' }).waitFor();
  await tabTo(page, 'Next', 'button[type=submit]');
  await page.keyboard.press('Enter');
  await page.getByRole('group', { name: 'Summary' }).waitFor();
  await tabTo(page, 'Start restore', 'button[type=submit]');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Start restore');
  await page.keyboard.press('Enter');
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'typed-restore' }).waitFor({ timeout: 60_000 });
});

test('an operator copies an encrypted VM to three repositories, then restores it from the secondary region with its password', async () => {
  const page = consolePage as Page;
  const folder = join(dir, 'vault-source');
  await mkdir(folder);
  await writeMixedRaw(join(dir, 'vault.raw'), 8, 4);
  await makeVmFolder(folder, 'vault', join(dir, 'vault.raw'), 'monolithicFlat');
  await run(process.execPath, [cli, '--home', home, 'backup', `local:${folder}`, '--encrypt', '--password-env', 'LB_TEST_PW'], {
    env: { ...process.env, LB_TEST_PW: 'e2e vault password' },
  });
  for (const [name, region, zone] of [
    ['near', 'primary', 'zone-2'],
    ['zoned', 'primary', 'zone-3'],
    ['far', 'secondary', 'zone-1'],
  ] as const) {
    await lifeboat('repos', 'add', name, '--path', join(dir, 'copies', name), '--region', region, '--zone', zone);
  }
  await page.getByRole('button', { name: 'Copies', exact: true }).click();
  await page.getByRole('radio', { name: /GRS: LRS plus a copy/ }).check();
  await page.getByRole('button', { name: 'Set policy' }).click();
  await page.getByRole('button', { name: 'Run a copy job' }).click();
  await page
    .locator('.job[data-state="succeeded"]')
    .filter({ hasText: /Copy every VM to meet GRS/ })
    .waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Copies', exact: true }).click();
  const vault = page.locator('table', { has: page.locator('caption', { hasText: 'vault' }) });
  await vault.getByText('vault · far (secondary/zone-1)').waitFor();
  assert.equal(await vault.getByRole('cell', { name: 'met', exact: true }).count(), 1);
  await page.screenshot({ path: join(screenshots, 'console-copies.png'), fullPage: true });

  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: 'vault', exact: true }).check();
  await page.getByText('encrypted', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: /Alternate location/ }).waitFor();
  await page.getByRole('button', { name: 'Next' }).click();
  const target = join(dir, 'vault-restored');
  await page.getByLabel(/Target folder/).fill(target);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Read from').selectOption('secondary');
  assert.equal(await page.getByRole('button', { name: 'Start restore' }).isDisabled(), true, 'an encrypted point needs its password first');
  await page.getByLabel('Encryption password').fill('not the password');
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page
    .getByRole('alert')
    .filter({ hasText: /wrong password for encryption key/ })
    .waitFor();
  await page.getByLabel('Encryption password').fill('e2e vault password');
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page
    .locator('.job[data-state="succeeded"]')
    .filter({ hasText: /from copy far \(region secondary\)/ })
    .waitFor({ timeout: 60_000 });
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'vault.raw'), join(target, 'vault.vmdk')), /identical/);

  await page.getByRole('button', { name: 'Restore VM', exact: true }).click();
  await page.getByRole('checkbox', { name: 'vault', exact: true }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('radio', { name: /The disks only/ }).check();
  await page.getByLabel(/Target folder/).fill(join(dir, 'vault-disks'));
  await page.getByLabel('Template', { exact: true }).selectOption('arm');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByText(/the disks and an ARM template in/).waitFor();
  await page.getByLabel('Encryption password').fill('e2e vault password');
  await page.getByRole('button', { name: 'Start restore' }).click();
  await page
    .locator('.job[data-state="succeeded"]')
    .filter({ hasText: /Restore the disks of vault with an ARM template/ })
    .waitFor({ timeout: 60_000 });
  assert.match(
    qemuImg(
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${join(dir, 'vault.raw')}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${join(dir, 'vault-disks', 'vault.vhd')}`,
    ),
    /identical/,
  );
});

test('an operator restores two VMs from tape, inserting the offline tape when asked', async () => {
  const page = consolePage as Page;
  // Desktop notifications allowed; the page's Notification records what it was asked to show.
  await page.context().grantPermissions(['notifications'], { origin: new URL(consoleUrl).origin });
  await page.addInitScript(() => {
    const shown: string[] = [];
    (window as unknown as { shownNotifications: string[] }).shownNotifications = shown;
    window.Notification = class extends EventTarget {
      static permission = 'granted';
      static requestPermission = async (): Promise<string> => 'granted';
      constructor(title: string, options?: { body?: string }) {
        super();
        shown.push(`${title}: ${options?.body ?? ''}`);
      }
    } as unknown as typeof Notification;
  });
  await page.reload();
  await page.getByRole('button', { name: 'Tape', exact: true }).click();
  await page.getByRole('heading', { name: 'Virtual library' }).waitFor();
  await page.locator('tr[data-barcode="LB0001L9"]').filter({ hasText: 'offline' }).waitFor();
  await page.getByLabel(/lab-web-01 · point 2/).check();
  await page.getByLabel(/lab-db-02 · point 2/).check();
  const target = join(dir, 'from-tape');
  await page.getByLabel(/Target folder/).fill(target);
  await page.getByRole('button', { name: 'Show the pull list' }).click();
  await page.getByRole('cell', { name: /offline: you will be asked to insert it/ }).waitFor();
  await page.getByRole('button', { name: 'Start restore of 2 VM(s)' }).click();
  const prompt = page.getByRole('alertdialog', { name: 'Insert tape LB0001L9' });
  await prompt.waitFor({ timeout: 60_000 });
  await page.locator('.job[data-state="waiting-for-operator"]').first().waitFor();
  await page
    .getByRole('list', { name: 'Notices' })
    .getByText(/needs you: insert tape LB0001L9/)
    .first()
    .waitFor();
  await page.getByRole('button', { name: /^Jobs .*need you/ }).waitFor();
  assert.deepEqual(await axeViolations(page, 'insert-tape prompt'), []);
  // The library picture says what the jobs wait for.
  await page.getByRole('button', { name: 'Tape', exact: true }).click();
  await page.locator('tr[data-barcode="LB0001L9"]').filter({ hasText: 'wanted now by 2 job(s)' }).waitFor();
  await page.screenshot({ path: join(screenshots, 'console-tape-prompt.png'), fullPage: true });
  // A wrong barcode is refused with the one needed.
  await prompt.getByLabel(/Barcode you inserted/).fill('LB0003L9');
  await prompt.getByRole('button', { name: 'I have inserted it' }).click();
  await prompt.getByRole('alert').filter({ hasText: 'tape LB0003L9 is not the one needed: insert LB0001L9' }).waitFor();
  await prompt.getByRole('button', { name: 'Import LB0001L9 through the mail slot' }).click();
  await prompt.waitFor({ state: 'detached', timeout: 60_000 });
  // Jobs that no longer wait take back their "needs you" notices.
  await page
    .getByRole('list', { name: 'Notices' })
    .getByText(/needs you: insert tape LB0001L9/)
    .first()
    .waitFor({ state: 'detached', timeout: 10_000 });
  await page.getByRole('navigation').getByRole('button', { name: /^Jobs/ }).click();
  for (const vm of ['lab-web-01', 'lab-db-02']) {
    await page
      .locator('.job[data-state="succeeded"]')
      .filter({ hasText: `Restore ${vm} from tape` })
      .waitFor({ timeout: 60_000 });
    assert.match(qemuImg('compare', join(home, 'lab', vm, `${vm}.vmdk`), join(target, vm, `${vm}.vmdk`)), /identical/);
  }
  const notified = (await page.evaluate('window.shownNotifications')) as string[];
  assert.ok(
    notified.some((text) => /needs you: insert tape LB0001L9/.test(text)),
    `a desktop notification asked for the tape (${notified.join(' | ')})`,
  );
  assert.ok(
    notified.some((text) => /Done: Restore lab-web-01 from tape/.test(text)),
    'and another said the job ended',
  );
  await page.getByRole('button', { name: 'Tape', exact: true }).click();
  await page.screenshot({ path: join(screenshots, 'console-tape.png'), fullPage: true });
});

test('the Tape view shows a real library over iSCSI the way it shows the virtual one', { skip: tgtMissing ?? false }, async () => {
  const page = consolePage as Page;
  const tgt = await startTgtLibrary(join(dir, 'tgt'), { drives: 2, slots: 4, mailslots: 1, tapes: [{ barcode: 'REAL01', sizeMiB: 8 }] });
  try {
    // Through the CLI, which finds the serving engine on the home socket.
    await lifeboat('tape', 'library', 'add', tgt.url, '--name', 'tgt');
    await page.getByRole('button', { name: 'Tape', exact: true }).click();
    await page.reload();
    await page.getByRole('button', { name: 'Tape', exact: true }).click();
    const hardware = page.locator('dl.library-source');
    await hardware.getByText(`tgt · iSCSI · ${tgt.url}`).waitFor();
    await hardware.getByText(/IET VIRTUAL-CHANGER/).waitFor();
    assert.equal(await hardware.getByText(/IET VIRTUAL-TAPE/).count(), 2);
    await page.locator('tr[data-barcode="REAL01"]').filter({ hasText: 'slot 1' }).filter({ hasText: 'unknown' }).waitFor();
    assert.deepEqual(await axeViolations(page, 'tape view of a real library'), []);
    await page.screenshot({ path: join(screenshots, 'console-tape-iscsi.png'), fullPage: true });
  } finally {
    await lifeboat('tape', 'library', 'use', 'virtual');
    await tgt.stop();
  }
});

test('an operator rehearses the restore of two VMs and downloads the report', async () => {
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Rehearsal', exact: true }).click();
  await page.getByLabel('lab-web-01', { exact: true }).check();
  await page.getByLabel('lab-db-02', { exact: true }).check();
  await page.getByLabel('Folder', { exact: true }).fill(join(dir, 'rehearsal'));
  await page.getByRole('button', { name: 'Start the rehearsal of 2 VM(s)' }).click();
  await page.locator('.job[data-state="succeeded"]').filter({ hasText: 'Rehearse the restore of 2 VM(s)' }).waitFor({ timeout: 60_000 });
  await page.getByRole('button', { name: 'Rehearsal', exact: true }).click();
  const history = page.getByRole('table', { name: 'Past rehearsals' });
  for (const vm of ['lab-web-01', 'lab-db-02'])
    await history
      .getByRole('row')
      .filter({ hasText: vm })
      .filter({ hasText: /passed: \d+ blocks match/ })
      .filter({ hasText: /\d+(\.\d)? s/ })
      .waitFor();
  await history
    .getByRole('button', { name: /Prepare the report/ })
    .first()
    .click();
  const link = history.getByRole('link', { name: 'Download the report' }).first();
  assert.match((await link.getAttribute('href')) ?? '', /^data:text\/html/);
  assert.match((await link.getAttribute('download')) ?? '', /^lifeboat-rehearsal-/);
  await page.screenshot({ path: join(screenshots, 'console-rehearsal.png'), fullPage: true });
});

test('a thousand queued jobs: the list stays virtualized, filters, scrolls, and opens a job in detail', async () => {
  const page = consolePage as Page;
  await page.getByRole('button', { name: 'Jobs', exact: true }).click();
  const count = page.getByRole('search', { name: 'Filter jobs' }).getByRole('status');
  const before = Number(/of (\d+) jobs/.exec((await count.textContent()) ?? '')?.[1] ?? '0');
  const ids = await queueJobs(home, ['lab-web-01', 'lab-db-02'], 1000);
  try {
    await count.filter({ hasText: `of ${before + 1000} jobs` }).waitFor({ timeout: 60_000 });
    const figures = await measureQueue(page, 3);
    console.log(
      `1,000 jobs: ${figures.frames} frames in 3 s while scrolling, median ${figures.medianFrameMs.toFixed(1)} ms, p95 ${figures.p95FrameMs.toFixed(1)} ms, heap ${figures.heapMiB.toFixed(0)} MiB, ${figures.rowsInDom} rows in the DOM`,
    );
    assert.ok(figures.rowsInDom < 60, `only the rows in view are rendered (${figures.rowsInDom})`);
    await page.getByLabel('State').selectOption('queued');
    assert.match((await count.textContent()) ?? '', /^\d{3,4} of /);
    await page.getByLabel('VM', { exact: true }).fill('lab-db');
    await page.locator('.job').first().waitFor();
    for (const name of await page.locator('.job strong').allTextContents()) assert.equal(name, 'lab-db-02');
    await page.getByLabel('VM', { exact: true }).fill('');
    await page.getByLabel('State').selectOption('all');
    await page.getByLabel('Kind').selectOption('tape-restore');
    await page
      .getByRole('button', { name: /^Details of lab-web-01: Restore lab-web-01 from tape/ })
      .first()
      .click();
    const detail = page.getByRole('complementary');
    await detail.getByRole('heading', { name: 'Steps' }).waitFor();
    await detail.getByRole('heading', { name: 'Where the time goes' }).waitFor();
    await detail.getByRole('table', { name: 'Tapes read' }).waitFor();
    await detail.getByRole('list', { name: 'Job log' }).getByText('step transfer-disks started').waitFor();
    await page.getByLabel('Kind').selectOption('all');
    await page.screenshot({ path: join(screenshots, 'console-queue-1000.png'), fullPage: true });
    await detail.getByRole('button', { name: 'Close details' }).click();
  } finally {
    await cancelJobs(home, ids);
  }
});

test(
  'an operator backs up a VM of a vSphere host from the Inventory, in the transport chosen on its row',
  { skip: vcsimMissing ?? false },
  async () => {
    const simulator = vc as Vcsim;
    const page = consolePage as Page;
    await page.getByRole('button', { name: 'Inventory', exact: true }).click();
    await page.getByLabel('vSphere host', { exact: true }).selectOption('vc');
    // db-on-vsphere: restored to the simulator by the wizard above.
    const vms = page.getByRole('table', { name: 'VMs on vc' });
    await vms.getByLabel('Transport for db-on-vsphere').selectOption('nbd');
    await page.screenshot({ path: join(screenshots, 'console-inventory-vsphere.png'), fullPage: true });
    await vms.getByRole('button', { name: 'Back up now: db-on-vsphere' }).click();
    // The job opens in the queue, its detail beside it.
    const detail = page.getByRole('complementary');
    await detail.getByText(/Back up db-on-vsphere from vSphere vc \(nbd\)/).waitFor();
    await detail.getByRole('heading', { name: 'db-on-vsphere: succeeded' }).waitFor({ timeout: 120_000 });
    await page.screenshot({ path: join(screenshots, 'console-backup-vsphere.png'), fullPage: true });
    await detail.getByRole('button', { name: 'Close details' }).click();
    const target = join(dir, 'from-vsphere');
    await lifeboat('restore', 'vm', 'db-on-vsphere', '--point', 'latest', '--target', `local:${target}`);
    const onDatastore = join(simulator.datastores.LocalDS_1 as string, 'db-on-vsphere', 'db-on-vsphere.vmdk');
    assert.match(qemuImg('compare', onDatastore, join(target, 'db-on-vsphere.vmdk')), /identical/);
  },
);

test('every view passes axe accessibility checks (WCAG 2 A and AA), in light and dark', async () => {
  const page = consolePage as Page;
  const report: string[] = [];
  for (const [scheme, view] of (['light', 'dark'] as const).flatMap((mode) =>
    ['Inventory', 'Jobs', 'Restore VM', 'Instant Recovery', 'Files', 'Tape', 'Arrays', 'Copies', 'Rehearsal'].map(
      (name) => [mode, name] as const,
    ),
  )) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.getByRole('button', { name: view, exact: true }).click();
    await page.waitForTimeout(300);
    report.push(...(await axeViolations(page, `${scheme} ${view}`)));
    if (scheme === 'dark' && view === 'Jobs') await page.screenshot({ path: join(screenshots, 'console-dark.png'), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(report, []);
});
