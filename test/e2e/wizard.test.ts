// The restore wizard end to end through `lifeboat serve` and Debian's Chromium: several VMs at
// once (one job each), the engine's checks at every Next (a non-empty folder is refused before
// any job exists), a vSphere restore with a datastore per disk and a network mapping (vcsim), and
// "Edit and retry" of a job that failed on purpose. Every step is axe-clean in both themes.
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Page } from 'playwright';
import { qemuImg, smallTmpfs, tempDir } from '../helpers/env.ts';
import { addSimulatorHostWithCli, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole, type ConsoleSession } from '../helpers/console-session.ts';

const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const vcsimMissing = vcsimUnavailable();
// Started here, not in before(): their after() hooks must belong to the file.
const vc: Vcsim | null = vcsimMissing ? null : await startVcsim();
const tiny = await smallTmpfs('1m');
// At the top level, not in before(): startServe's after() must belong to the file, not to a hook.
const session: ConsoleSession = await startConsole();
const page: Page = session.page;
if (vc) await addSimulatorHostWithCli(session.home, vc);
await mkdir(screenshots, { recursive: true });

const lifeboat = (...args: string[]) => session.lifeboat(...args);
const home = (): string => session.home;

async function jobCount(): Promise<number> {
  return (JSON.parse((await lifeboat('jobs', '--json')).stdout) as unknown[]).length;
}

after(async () => {
  await session.stop();
});

/** A test that keeps a screenshot of what the page showed when it failed. */
function pageTest(name: string, options: { skip?: string | boolean }, body: (shown: Page) => Promise<void>): void {
  test(name, options, async () => {
    try {
      await body(page);
    } catch (failure) {
      await page.screenshot({
        path: join(screenshots, `wizard-failed-${name.slice(0, 30).replace(/[^a-z]+/gi, '-')}.png`),
        fullPage: true,
      });
      throw failure;
    }
  });
}

/** axe on the wizard's step, in the light theme and the dark one; a screenshot of each. */
async function stepIsClean(shown: Page, name: string): Promise<void> {
  await shown.getByRole('group', { name }).waitFor();
  for (const theme of ['light', 'dark'] as const) {
    // The masthead's switch (its input sits under the drawn toggle: set through the input itself).
    await shown.getByRole('switch', { name: 'Dark theme' }).setChecked(theme === 'dark', { force: true });
    await shown.waitForFunction((dark) => document.documentElement.classList.contains('pf-v6-theme-dark') === dark, theme === 'dark');
    assert.deepEqual(await axeViolations(shown, `wizard step ${name} (${theme})`), []);
    const file = `wizard-${name.toLowerCase().replace(/[^a-z]+/g, '-')}-${theme}.png`;
    await shown.screenshot({ path: join(screenshots, file), fullPage: true });
  }
  await shown.getByRole('switch', { name: 'Dark theme' }).setChecked(false, { force: true });
}

async function next(shown: Page, leaving: string): Promise<void> {
  await stepIsClean(shown, leaving);
  await shown.getByRole('button', { name: 'Next' }).click();
}

async function openWizard(shown: Page, vms: string[]): Promise<void> {
  await shown.getByRole('button', { name: 'Restore VM', exact: true }).click();
  for (const vm of vms) await shown.getByRole('checkbox', { name: vm, exact: true }).check();
}

pageTest('two VMs restored to a local folder: two jobs, the first opens', {}, async (shown) => {
  const before = await jobCount();
  await openWizard(shown, ['lab-web-01', 'lab-db-02']);
  await shown.getByLabel('Restore point of lab-db-02').selectOption({ index: 2 });
  await next(shown, 'VMs and points');
  await next(shown, 'Restore mode');
  const target = join(dir, 'two-vms');
  await shown.getByLabel(/Target folder/).fill(target);
  await next(shown, 'Target');
  // Datastores and networks are vSphere's: skipped, and the step list says so.
  await shown.getByText('Skipped: only for a new VM on a vSphere host').first().waitFor();
  await shown.getByLabel('New VM name for lab-web-01 (optional; keeps the original name if empty)').fill('web-twin');
  await next(shown, 'Name and identity');
  await shown.getByLabel('Reason', { exact: true }).fill('drill: two VMs at once');
  await next(shown, 'Power on and reason');
  const summary = shown.getByLabel('What the restore does, per VM');
  await summary.getByText('web-twin', { exact: true }).waitFor();
  await summary.getByText('Total: 2 VM(s)').waitFor();
  await stepIsClean(shown, 'Summary');
  await shown.getByRole('button', { name: 'Start restore' }).click();
  await shown
    .getByRole('complementary')
    .getByText(/web-twin|lab-db-02/)
    .first()
    .waitFor();
  for (const name of ['web-twin', 'lab-db-02'])
    await shown.locator('.job[data-state="succeeded"]').filter({ hasText: name }).first().waitFor({ timeout: 90_000 });
  assert.equal(await jobCount(), before + 2);
  assert.deepEqual((await readdir(target)).sort(), ['lab-db-02', 'web-twin']);
  assert.match(
    qemuImg('compare', join(home(), 'lab', 'lab-web-01', 'lab-web-01.vmdk'), join(target, 'web-twin', 'web-twin.vmdk')),
    /identical/,
  );
  const audit = (await lifeboat('audit', '--json')).stdout;
  assert.match(audit, /drill: two VMs at once/, 'the reason is kept in the audit log');
  assert.deepEqual(session.errors, []);
});

pageTest('a non-empty target folder is refused at Next of the target step, before any job exists', {}, async (shown) => {
  const before = await jobCount();
  const full = join(dir, 'not-empty');
  await mkdir(full);
  await writeFile(join(full, 'keep-me.txt'), 'someone else’s file\n');
  await openWizard(shown, ['lab-web-01']);
  await next(shown, 'VMs and points');
  await next(shown, 'Restore mode');
  await shown.getByLabel(/Target folder/).fill(full);
  await shown.getByRole('button', { name: 'Next' }).click();
  await shown
    .getByRole('alert')
    .filter({ hasText: /not empty/ })
    .waitFor();
  await shown.getByRole('group', { name: 'Target' }).waitFor();
  await stepIsClean(shown, 'Target');
  assert.equal(await jobCount(), before, 'no job was made');
});

pageTest('a vSphere restore with a datastore per disk and a network mapping', { skip: vcsimMissing ?? false }, async (shown) => {
  const simulator = vc as Vcsim;
  await openWizard(shown, ['lab-db-02']);
  await next(shown, 'VMs and points');
  await next(shown, 'Restore mode');
  await shown.getByRole('radio', { name: /A vSphere host/ }).check();
  await shown.getByLabel('Disk format', { exact: true }).waitFor();
  await next(shown, 'Target');
  await shown.getByLabel('Datastore for disk scsi0:0').selectOption('LocalDS_1');
  await next(shown, 'Datastore per disk');
  const mapping = shown.getByLabel(/^Network for /).first();
  if (await mapping.count()) await mapping.selectOption('VM Network');
  await next(shown, 'Network mapping');
  await shown.getByLabel(/New VM name for lab-db-02/).fill('db-placed');
  await shown.getByRole('radio', { name: /New BIOS UUID and MAC addresses/ }).check();
  await next(shown, 'Name and identity');
  await next(shown, 'Power on and reason');
  await stepIsClean(shown, 'Summary');
  await shown.getByRole('button', { name: 'Start restore' }).click();
  await shown.locator('.job[data-state="succeeded"]').filter({ hasText: 'db-placed' }).first().waitFor({ timeout: 90_000 });
  const restored = join(simulator.datastores.LocalDS_1 as string, 'db-placed', 'db-placed.vmdk');
  assert.match(qemuImg('compare', join(home(), 'lab', 'lab-db-02', 'lab-db-02.vmdk'), restored), /identical/);
});

pageTest('a job failed on purpose: Edit and retry reopens the wizard with its answers', { skip: tiny.skip }, async (shown) => {
  // 32 MiB into a 1 MiB file system: the job fails for want of space.
  const cramped = join(tiny.path as string, 'cramped');
  await lifeboat('restore', 'vm', 'lab-web-01', '--point', 'latest', '--target', `local:${cramped}`).catch(() => undefined);
  await shown.getByRole('button', { name: 'Jobs', exact: true }).click();
  const failed = shown.locator('.job[data-state="failed"]').filter({ hasText: 'cramped' }).first();
  await failed.waitFor({ timeout: 60_000 });
  await failed.getByRole('button', { name: /^Details of / }).click();
  await shown.getByRole('button', { name: 'Edit and retry' }).click();
  await shown.getByRole('group', { name: 'Summary' }).waitFor();
  await shown.getByText(new RegExp(`a new VM in ${cramped}`)).waitFor();
  await stepIsClean(shown, 'Summary');
  // Back to the target, a roomier folder, and on to the summary again.
  for (const step of ['Power on and reason', 'Name and identity', 'Target']) {
    await shown.getByRole('button', { name: 'Back' }).click();
    await shown.getByRole('group', { name: step }).waitFor();
  }
  await shown.getByLabel(/Target folder/).fill(join(dir, 'retried'));
  await shown.getByRole('button', { name: 'Next' }).click();
  await shown.getByRole('button', { name: 'Next' }).click();
  await shown.getByRole('button', { name: 'Next' }).click();
  await shown.getByRole('button', { name: 'Start restore' }).click();
  await shown.locator('.job[data-state="succeeded"]').filter({ hasText: 'retried' }).first().waitFor({ timeout: 90_000 });
  assert.deepEqual(session.errors, []);
});
