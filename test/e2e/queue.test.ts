// The job queue with a thousand jobs, through the real `lifeboat serve` in Debian's Chromium: the
// list renders only the rows in view, queued jobs say their place and what holds them, three
// picked jobs are cancelled together after a confirmation that lists them, the view is axe-clean
// in both themes, and the page logs no error.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Page } from 'playwright';
import { cancelJobs, measureQueue, queueJobs } from '../../bench/queue-load.ts';
import { connect } from '../../electron/cli/connect.ts';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole } from '../helpers/console-session.ts';

const screenshots = join(import.meta.dirname, '..', 'artifacts');
const session = await startConsole({ vms: 2, points: 1 });
after(() => session.stop());

async function setTheme(page: Page, theme: 'light' | 'dark'): Promise<void> {
  await page.getByRole('switch', { name: 'Dark theme' }).setChecked(theme === 'dark', { force: true });
  await page.waitForFunction((dark) => document.documentElement.classList.contains('pf-v6-theme-dark') === dark, theme === 'dark');
}

async function statesOf(home: string, ids: string[]): Promise<string[]> {
  const connection = await connect(home);
  try {
    return await Promise.all(ids.map(async (jobId) => (await connection.api.invoke('jobs.get', { jobId })).job.state));
  } finally {
    await connection.close();
  }
}

test('a thousand jobs: few rows in the DOM, places and reasons, three picked and cancelled, axe-clean in both themes', async () => {
  const { page, home } = session;
  await mkdir(screenshots, { recursive: true });
  await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /^Jobs/ }).click();
  const ids = await queueJobs(home, ['lab-web-01', 'lab-db-02'], 1000);
  try {
    const count = page.getByRole('search', { name: 'Filter jobs' }).getByRole('status');
    await count.filter({ hasText: /of 10\d\d jobs/ }).waitFor({ timeout: 120_000 });
    const figures = await measureQueue(page, 3);
    console.log(
      `1,000 jobs: ${figures.frames} frames in 3 s while scrolling, median ${figures.medianFrameMs.toFixed(1)} ms, p95 ${figures.p95FrameMs.toFixed(1)} ms, longest ${figures.longestFrameMs.toFixed(0)} ms, heap ${figures.heapMiB.toFixed(0)} MiB, ${figures.rowsInDom} rows in the DOM`,
    );
    assert.ok(figures.rowsInDom < 40, `only the rows in view are rendered (${figures.rowsInDom})`);

    // Queued jobs in the scheduler's order, each with its place and what holds it.
    await page.getByLabel('State').selectOption('queued');
    await page.getByLabel('Order').selectOption('queue');
    const list = page.getByRole('list', { name: 'Job queue' });
    await page.screenshot({ path: join(screenshots, 'queue-places-light.png'), fullPage: true });
    await list.getByText(/^2nd in queue · waiting for (VM lab-(web-01|db-02)'s other job|a worker)$/).waitFor({ timeout: 30_000 });
    await list
      .getByText(/^next · waiting for /)
      .first()
      .waitFor();
    await page.screenshot({ path: join(screenshots, 'queue-places-light.png'), fullPage: true });

    // The newest three (the last to start) picked by their checkboxes and cancelled together.
    await page.getByLabel('State').selectOption('all');
    await page.getByLabel('Order').selectOption('newest');
    const picked = ids.slice(-3);
    for (const id of picked) await list.locator(`.job[data-job-id="${id}"]`).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Cancel selected (3)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel 3 job(s)?' });
    const toCancel = dialog.getByRole('list', { name: 'Jobs to cancel' }).getByRole('listitem');
    await toCancel.nth(2).waitFor();
    assert.equal(await toCancel.count(), 3);
    assert.deepEqual(await axeViolations(page, 'the cancel confirmation'), []);
    await dialog.getByRole('button', { name: 'Yes, cancel 3 job(s)' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.deepEqual(await statesOf(home, picked), ['cancelled', 'cancelled', 'cancelled']);
    for (const id of picked) await list.locator(`.job[data-job-id="${id}"][data-state="cancelled"]`).waitFor();
    await page.getByRole('button', { name: 'Cancel selected (0)' }).waitFor();

    // A queued job in detail says its place too.
    await list
      .getByRole('button', { name: /^Details of lab-web-01: / })
      .first()
      .click();
    const detail = page.getByRole('complementary');
    await detail.getByRole('heading', { name: /^lab-web-01: / }).waitFor();
    for (const theme of ['light', 'dark'] as const) {
      await setTheme(page, theme);
      assert.deepEqual(await axeViolations(page, `the queue with 1,000 jobs (${theme})`), []);
      await page.screenshot({ path: join(screenshots, `queue-1000-${theme}.png`), fullPage: true });
    }
    await setTheme(page, 'light');
    await detail.getByRole('button', { name: 'Close details' }).click();
  } catch (error) {
    await page.screenshot({ path: join(screenshots, 'queue-failed.png'), fullPage: true });
    throw new Error(`${(error as Error).message}; page errors: ${session.errors.join(' | ')}`);
  } finally {
    await cancelJobs(home, ids);
  }
  assert.deepEqual(session.errors, []);
});
