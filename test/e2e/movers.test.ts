// The Movers view as an operator meets it, in Debian's Chromium against a real `lifeboat serve
// --movers` with the vCenter simulator as its host. Add a mover in the form, see its join token and
// command once (copied with the button), see it listed as awaiting-join, be told the engine's
// sentence when a request is refused, remove it after a confirmation that says where its tasks go.
// Then two real `lifeboat mover` processes started with the commands the form gave: both show as
// connected with what they reach, the first is killed mid-disk while it carries the restore, and
// the job says the disk was carried by the first and then the second (the disk identical). axe
// finds nothing in light or dark.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type { Locator, Page } from 'playwright';
import { axeViolations, launchChromium, pageErrors } from '../helpers/console-browser.ts';
import { makeVmFolder, qemuImg, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { startMover, type MoverProcess } from '../helpers/movers.ts';
import { cli, startServe, type ServeProcess } from '../helpers/serve-process.ts';
import { addSimulatorHostWithCli, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const run = promisify(execFile);
const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const home = join(dir, 'home');
const vcsimMissing = vcsimUnavailable();
const ANN_PASSWORD = 'ann-console-password';
/** How long a notice shows by itself (renderer/views/Notices.tsx). */
const NOTICE_MS = 12_000;

async function lifeboat(...args: string[]): Promise<string> {
  return (
    await run(process.execPath, [cli, '--home', home, ...args], { timeout: 120_000, env: { ...process.env, LB_TEST_ANN: ANN_PASSWORD } })
  ).stdout;
}

/** Both themes: no axe violation, and a screenshot of each. */
async function checkBothThemes(page: Page, what: string, file: string): Promise<void> {
  const report: string[] = [];
  await mkdir(screenshots, { recursive: true });
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    report.push(...(await axeViolations(page, `${scheme} ${what}`)));
    await page.screenshot({ path: join(screenshots, `${file}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(report, []);
}

type Setup = { vc: Vcsim; serve: ServeProcess; moverAddress: string; page: Page; errors: string[] };

// Made at the top, not in before(): what a hook starts is stopped when the hook ends.
const setup: Setup | null = vcsimMissing ? null : await setUp();

async function setUp(): Promise<Setup> {
  const vc = await startVcsim();
  // Adding and removing movers is an administrator's; the console signs in with an account.
  await lifeboat('accounts', 'add', 'ann', '--role', 'administrator', '--password-env', 'LB_TEST_ANN');
  const serve = await startServe(home, '--movers', '127.0.0.1:0');
  const moverAddress = (serve.printed as { movers?: string }).movers;
  assert.match(moverAddress ?? '', /^127\.0\.0\.1:\d+$/, "serve --movers prints the movers' port");
  await addSimulatorHostWithCli(home, vc);
  const browser = await launchChromium();
  after(() => browser.close());
  const context = await browser.newContext();
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: serve.origin });
  const page = await context.newPage();
  const errors = pageErrors(page);
  await page.goto(serve.printed.url);
  await page.getByLabel('User').fill('ann');
  await page.getByLabel('Password').fill(ANN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return { vc, serve, moverAddress: moverAddress as string, page, errors };
}

/** The Add mover form, filled in (not sent). */
async function fillAddForm(page: Page, name: string, proxyVm: string): Promise<Locator> {
  const form = page.getByRole('form', { name: 'Add mover' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('vSphere host').selectOption('vc');
  await form.getByLabel('Proxy VM (optional)').fill(proxyVm);
  return form;
}

/** Adds a mover with the form and returns the command it shows once (the form is back after). */
async function addWithForm(page: Page, name: string, proxyVm: string): Promise<string> {
  const form = await fillAddForm(page, name, proxyVm);
  // Sent from the keyboard: live rows above move the form, and a click whose button moves between
  // press and release lands on nothing (Playwright checks where the press lands, not the release).
  await form.getByLabel('Proxy VM (optional)').press('Enter');
  return joinCommandShown(page, form, name);
}

/** The command the form shows once after it was sent, read and put away (the form is back after). */
async function joinCommandShown(page: Page, form: Locator, name: string): Promise<string> {
  const once = page.getByRole('region', { name: `Join ${name} from its proxy host` });
  const refusal = form.getByRole('alert');
  await once.or(refusal).waitFor();
  assert.equal(await refusal.count(), 0, `the engine refused ${name}: ${await refusal.allTextContents()}`);
  const command = await once.getByLabel('Command to run on the proxy host').inputValue();
  await once.getByRole('button', { name: 'Done: I have copied it' }).press('Enter');
  await form.waitFor();
  return command;
}

/** The mover the command describes, started for real with its own state folder and datastore view. */
function runCommand(command: string, name: string, datastore: string, env: Record<string, string> = {}): MoverProcess {
  const [, engine, token] = /--engine (\S+) --token (\S+)/.exec(command) ?? [];
  assert.ok(engine && token, command);
  return startMover({
    engine,
    token,
    state: join(dir, `state-${name}`),
    datastores: { LocalDS_1: datastore },
    transports: ['san'],
    slots: 1,
    env,
  });
}

test('an operator adds a mover, sees its join command once, and removes it', { skip: vcsimMissing ?? false }, async () => {
  const { page, errors, moverAddress } = setup as Setup;
  await page.getByRole('button', { name: 'Movers', exact: true }).click();
  await page.getByRole('heading', { name: 'Data movers' }).waitFor();
  await page.getByText('No movers yet.').waitFor();

  // The form, from the keyboard: name, host (from hosts.list), proxy VM, then Enter.
  const form = page.getByRole('form', { name: 'Add mover' });
  await form.getByLabel('Name').focus();
  await page.keyboard.type('proxy-a');
  await page.keyboard.press('Tab');
  assert.deepEqual(await form.getByLabel('vSphere host').locator('option').allTextContents(), ['Choose…', 'vc']);
  await form.getByLabel('vSphere host').selectOption('vc');
  await form.getByLabel('Proxy VM (optional)').fill('proxy-vm-a');
  await form.getByLabel('Proxy VM (optional)').press('Enter');

  // The token and the command, shown once.
  const once = page.getByRole('region', { name: 'Join proxy-a from its proxy host' });
  await once.waitFor();
  await once.getByText(/Shown once:.*not shown again/).waitFor();
  const command = await once.getByLabel('Command to run on the proxy host').inputValue();
  const token = await once.getByLabel('Join token').inputValue();
  assert.match(token, /^lbm1\.[A-Za-z0-9_-]+$/);
  assert.match(command, /^lifeboat mover --engine (\S+) --token (lbm1\.[A-Za-z0-9_-]+) --state \S+ --datastore \S+=\S+$/);
  assert.ok(command.startsWith(`lifeboat mover --engine ${moverAddress} `), "the engine address is the movers' port");
  assert.ok(command.includes(` --token ${token} `), 'the command carries the token shown');
  await once.getByRole('button', { name: 'Copy the command' }).click();
  await once.getByRole('status').filter({ hasText: 'Copied the command.' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), command);

  // Listed as awaiting its join, with what the form said.
  const row = page.locator('tr[data-mover="proxy-a"]');
  await page.locator('tr[data-mover="proxy-a"][data-state="awaiting-join"]').waitFor();
  assert.deepEqual((await row.locator('th, td').allTextContents()).slice(0, 4), ['proxy-a', 'vc', 'proxy-vm-a', 'awaiting-join']);
  await checkBothThemes(page, 'Movers view with a join command', 'console-movers');

  await once.getByRole('button', { name: 'Done: I have copied it' }).click();
  await form.waitFor();
  assert.equal((await page.content()).includes(token), false, 'the token is gone from the page once done');
  await page.reload();
  await page.getByRole('button', { name: 'Movers', exact: true }).click();
  await row.waitFor();
  assert.equal((await page.content()).includes(token), false, 'and never comes back');

  // Refusals are shown inline, in the engine's words.
  await form.getByLabel('Name').fill('proxy-a');
  await form.getByLabel('vSphere host').selectOption('vc');
  await form.getByRole('button', { name: 'Add mover' }).click();
  const refusal = form.getByRole('alert');
  await refusal.waitFor();
  assert.match((await refusal.textContent()) ?? '', /proxy-a/);
  assert.equal(await page.getByRole('region', { name: /^Join / }).count(), 0, 'nothing to join after a refusal');

  // Removing asks first, says where running tasks go, and the safe answer has the focus.
  await row.getByRole('button', { name: 'Remove proxy-a' }).click();
  const question = row.getByRole('group', { name: /^Remove mover proxy-a\?/ });
  await question.getByText(/moves? to another mover/).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Keep it');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Remove proxy-a', 'kept: the focus is back on Remove');
  assert.equal(await page.locator('tr[data-mover="proxy-a"][data-state="awaiting-join"]').count(), 1);
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Yes, remove proxy-a');
  await page.keyboard.press('Enter');
  await page.locator('tr[data-mover="proxy-a"][data-state="removed"]').waitFor();
  assert.equal(await row.getByRole('button', { name: 'Remove proxy-a' }).count(), 0, 'a removed mover cannot be removed again');
  await checkBothThemes(page, 'Movers view with a removed mover', 'console-movers-removed');
  assert.deepEqual(errors, []);
});

test(
  'two real movers: connected with what they reach; one killed mid-disk, the job shows both carried it',
  { skip: vcsimMissing ?? false },
  async () => {
    const { page, errors, vc } = setup as Setup;
    const datastore = vc.datastores.LocalDS_1 as string;
    const source = join(dir, 'web');
    const raw = join(dir, 'web.raw');
    await mkdir(source);
    await writeMixedRaw(raw, 16, 3);
    await makeVmFolder(source, 'web', raw, 'monolithicSparse');
    await lifeboat('backup', `local:${source}`);

    await page.getByRole('button', { name: 'Movers', exact: true }).click();
    // The backup's notice sits above the view. It runs out while the Add mover button is held down,
    // and stays until the release: the form does not move up under the pointer, the click is not lost.
    const notice = page.getByRole('list', { name: 'Notices' }).getByText(/Done: Back up web/);
    await notice.waitFor();
    const noticeShownAt = Date.now();
    const form = await fillAddForm(page, 'mover-a', 'DC0_H0_VM0');
    await form.getByRole('button', { name: 'Add mover' }).hover();
    await page.mouse.down();
    await page.waitForTimeout(Math.max(0, noticeShownAt + NOTICE_MS + 1000 - Date.now()));
    assert.equal(await notice.isVisible(), true, 'the notice waits for the release');
    await page.mouse.up();
    const firstCommand = await joinCommandShown(page, form, 'mover-a');
    await notice.waitFor({ state: 'detached' });
    // The first is slow (a throttled writer) and dies at its third checkpoint: the disk is still on it then.
    const first = runCommand(firstCommand, 'mover-a', datastore, {
      LIFEBOAT_KILL_AT: 'mover-checkpoint:3',
      LIFEBOAT_MOVER_WRITE_BPS: String(1024 * 1024),
    });
    await first.waitFor('connected');
    const second = runCommand(await addWithForm(page, 'mover-b', 'DC0_H0_VM0'), 'mover-b', datastore);
    await second.waitFor('connected');
    const rowOf = (name: string) => page.locator(`tr[data-mover="${name}"]`);
    for (const name of ['mover-a', 'mover-b']) {
      await page.locator(`tr[data-mover="${name}"][data-state="connected"]`).waitFor();
      const cells = await rowOf(name).locator('td').allTextContents();
      assert.equal(cells[3], 'SAN', `${name} advertises its transport`);
      assert.equal(cells[4], `LocalDS_1 at ${datastore}`, `${name} sees the datastore at its own path`);
    }
    await checkBothThemes(page, 'Movers view with two connected movers', 'console-movers-connected');

    const restored = lifeboat(
      'restore',
      'vm',
      'web',
      '--point',
      'latest',
      '--name',
      'web-moved',
      '--target',
      'vsphere:vc',
      '--datastore',
      'LocalDS_1',
      '--transport',
      'san',
      '--disk-format',
      'thick',
    );
    // While mover-a carries it, its row names the job and the disk with how far it is.
    await rowOf('mover-a')
      .getByText(/^job [0-9a-f]{8} scsi0:0 · \d+%$/)
      .waitFor({ timeout: 60_000 });
    await restored;
    assert.equal((await first.exited).signal, 'SIGKILL', 'the first mover died at its checkpoint');
    await page.locator('tr[data-mover="mover-a"][data-state="disconnected"]').waitFor();
    assert.match((await rowOf('mover-a').locator('td').nth(7).textContent()) ?? '', /connection lost|lost disk/);
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, join(datastore, 'web-moved', 'web-moved.vmdk')), /identical/);

    await page.getByRole('button', { name: 'Jobs', exact: true }).click();
    await page
      .getByRole('button', { name: /^Details of web: .*[Rr]estor/ })
      .first()
      .click();
    const detail = page.getByRole('complementary');
    await detail.getByRole('heading', { name: 'web: succeeded' }).waitFor();
    await detail
      .getByRole('region', { name: 'Data movers' })
      .getByText(/^Disk scsi0:0 carried by mover-a → mover-b$/)
      .waitFor();
    await checkBothThemes(page, 'a job carried by two movers', 'console-job-movers');
    await second.stop();
    assert.deepEqual(errors, []);
  },
);
