// The Inventory as an operator meets it, through the real `lifeboat serve` in Debian's Chromium:
// lab-web-01's only copy is on a tape taken out of the library (its primary folder gone), lab-db-02
// still reads from the repository. The table marks lab-web-01 "only copy offline" with the tape
// named, filters and sorts, and Restore opens the wizard with that VM; axe finds nothing in either theme.
import assert from 'node:assert/strict';
import { mkdir, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole } from '../helpers/console-session.ts';

const screenshots = join(import.meta.dirname, '..', 'artifacts');

/** Takes a VM's folder out of every repository of the home. */
async function losePrimaryCopy(home: string, vmId: string): Promise<void> {
  const repositories = join(home, 'repositories');
  for (const name of await readdir(repositories)) {
    const folder = join(repositories, name, 'vms', vmId);
    await rename(folder, `${folder}.lost`).catch(() => undefined);
  }
}

const session = await startConsole({
  prepare: async (lifeboat) => {
    await lifeboat(
      'tape',
      'library',
      'create',
      '--slots',
      '4',
      '--drives',
      '1',
      '--mailslots',
      '1',
      '--tapes',
      '2',
      '--capacity-mib',
      '256',
    );
    await lifeboat('tape', 'backup', 'lab-web-01', '--pool', 'weekly');
    await lifeboat('tape', 'eject', 'LB0001L9');
  },
});
after(() => session.stop());
// The engine checks the primary at each listing: the catalog still knows the point, the repository no more.
const listed = JSON.parse((await session.lifeboat('vms', '--json')).stdout) as { id: string; name: string }[];
await losePrimaryCopy(session.home, listed.find((vm) => vm.name === 'lab-web-01')?.id as string);

test('the Inventory marks the VM whose only copy is on an offline tape, and Restore opens the wizard with it', async () => {
  const { page, errors } = session;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Inventory', exact: true }).click();
  const table = page.getByRole('table', { name: 'Virtual machines in the catalog' });
  await table.waitFor();
  const marked = table.locator('tr[data-vm="lab-web-01"]');
  const mark = marked.getByText('only copy offline');
  await mark.waitFor();
  await marked.getByText('1 offline').waitFor();
  assert.equal(
    await table.locator('tr[data-vm="lab-db-02"]').getByText('only copy offline').count(),
    0,
    'the repository still holds lab-db-02',
  );
  await table.locator('tr[data-vm="lab-db-02"]').getByText('1 online').waitFor();

  // The tooltip names the tape, from the keyboard as well.
  await marked.locator('[tabindex="0"]').focus();
  await page.getByRole('tooltip').filter({ hasText: 'Only on tape LB0001L9' }).waitFor();

  await mkdir(screenshots, { recursive: true });
  const report: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    // The masthead's switch, as the operator chooses a theme; the page has it once <html> says so.
    await page.getByRole('switch', { name: 'Dark theme' }).setChecked(theme === 'dark', { force: true });
    await page.waitForFunction((dark) => document.documentElement.classList.contains('pf-v6-theme-dark') === dark, theme === 'dark');
    report.push(...(await axeViolations(page, `${theme} Inventory with an offline-only VM`)));
    await page.screenshot({ path: join(screenshots, `console-inventory-offline-${theme}.png`), fullPage: true });
  }
  await page.getByRole('switch', { name: 'Dark theme' }).setChecked(false, { force: true });
  assert.deepEqual(report, []);

  // The filter keeps only the VMs at risk; the name filter narrows by name.
  await page.getByLabel(/Only VMs whose only copy is offline \(1\)/).check();
  assert.equal(await table.locator('tbody tr').count(), 1);
  await page.getByLabel(/Only VMs whose only copy is offline/).uncheck();
  await page.getByRole('textbox', { name: 'Find a VM by name' }).fill('db');
  assert.deepEqual(await table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-vm'))), ['lab-db-02']);
  await page.getByRole('textbox', { name: 'Find a VM by name' }).fill('');

  // Sorting by copies puts the VM with no online copy first either way round it started.
  await table.getByRole('button', { name: 'Copies' }).click();
  assert.equal(await table.locator('tbody tr').first().getAttribute('data-vm'), 'lab-web-01');

  await marked.getByRole('button', { name: 'Restore lab-web-01…' }).click();
  // The wizard opens on that VM (past its first step: the VM is chosen).
  await page.locator('nav [aria-current="page"]', { hasText: 'Restore VM' }).waitFor();
  await page
    .locator('main')
    .getByText(/lab-web-01/)
    .first()
    .waitFor();
  assert.deepEqual(errors, []);
});
