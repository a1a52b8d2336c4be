// Every view of the console as an operator sees it, through the real `lifeboat serve` in Debian's
// Chromium: a full-page screenshot of each in the light and the dark theme (test/artifacts/),
// axe finds no WCAG 2 A/AA violation in either, the page logs no error; the theme chosen in the
// masthead outlives a reload; Home shows a job that waits for an offline tape, and opens it.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Page } from 'playwright';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole } from '../helpers/console-session.ts';
import { tempDir } from '../helpers/env.ts';

const screenshots = join(import.meta.dirname, '..', 'artifacts');

const session = await startConsole({
  // A virtual tape library whose tape with both VMs is then taken out: a restore from it waits for the operator.
  prepare: async (lifeboat) => {
    await lifeboat(...'tape library create --slots 4 --drives 2 --mailslots 1 --tapes 2'.split(' '));
    await lifeboat('tape', 'backup', 'lab-web-01', 'lab-db-02', '--pool', 'weekly');
    await lifeboat('tape', 'eject', 'LB0001L9');
  },
});
after(() => session.stop());

/** Each view as the sidebar names it, and the file name of its screenshots. */
const views: { label: string; file: string }[] = [
  { label: 'Home', file: 'home' },
  { label: 'Jobs', file: 'jobs' },
  { label: 'Restore VM', file: 'restore' },
  { label: 'Files', file: 'files' },
  { label: 'Instant Recovery', file: 'instant' },
  { label: 'Inventory', file: 'inventory' },
  { label: 'Tape', file: 'tape' },
  { label: 'Copies', file: 'copies' },
  { label: 'Arrays', file: 'arrays' },
  { label: 'Movers', file: 'movers' },
  { label: 'Rehearsal', file: 'rehearsal' },
  { label: 'Settings', file: 'settings' },
];

const navItem = (page: Page, label: string) =>
  // Jobs carries its counters in its name ("Jobs 1 active"); the others are named exactly.
  page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: label === 'Jobs' ? /^Jobs/ : label, exact: true });

/** Shows a view and waits until it has loaded what it asked the engine for ("Loading…" gone). */
async function showView(page: Page, label: string): Promise<void> {
  const item = navItem(page, label);
  await item.click();
  await page.waitForFunction((name) => document.querySelector('nav [aria-current="page"]')?.textContent?.startsWith(name) === true, label, {
    timeout: 10_000,
  });
  await page.getByRole('status').filter({ hasText: /…$/ }).first().waitFor({ state: 'detached', timeout: 20_000 });
}

/** The whole page: the PatternFly page scrolls inside its <main>, so the window is made as tall as that. */
async function screenshot(page: Page, file: string): Promise<void> {
  const height = await page.evaluate(() => {
    const main = document.querySelector('main');
    return main ? Math.ceil(main.getBoundingClientRect().top + main.scrollHeight) : document.body.scrollHeight;
  });
  const viewport = page.viewportSize() ?? { width: 1440, height: 900 };
  await page.setViewportSize({ width: viewport.width, height: Math.min(Math.max(height, viewport.height), 6000) });
  await page.screenshot({ path: join(screenshots, file), fullPage: true });
  await page.setViewportSize(viewport);
}

async function setTheme(page: Page, theme: 'light' | 'dark'): Promise<void> {
  const toggle = page.getByRole('switch', { name: 'Dark theme' });
  // The switch's input sits under its drawn toggle: set through the input itself.
  await toggle.setChecked(theme === 'dark', { force: true });
  await page.waitForFunction((dark) => document.documentElement.classList.contains('pf-v6-theme-dark') === dark, theme === 'dark');
}

test('every view in the light and the dark theme: a screenshot each, axe-clean, no page errors', async () => {
  const { page } = session;
  await mkdir(screenshots, { recursive: true });
  const violations: string[] = [];
  for (const theme of ['light', 'dark'] as const) {
    await setTheme(page, theme);
    for (const view of views) {
      await showView(page, view.label);
      await screenshot(page, `${view.file}-${theme}.png`);
      violations.push(...(await axeViolations(page, `${view.label} (${theme})`)));
    }
  }
  assert.deepEqual(violations, []);
  assert.deepEqual(session.errors, []);
});

test('the theme chosen in the masthead outlives a reload', async () => {
  const { page } = session;
  await setTheme(page, 'dark');
  await page.reload();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor();
  assert.equal(await page.getByRole('switch', { name: 'Dark theme' }).isChecked(), true);
  assert.equal(await page.evaluate(() => document.documentElement.classList.contains('pf-v6-theme-dark')), true);
  await setTheme(page, 'light');
  await page.reload();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor();
  assert.equal(await page.getByRole('switch', { name: 'Dark theme' }).isChecked(), false);
  assert.deepEqual(session.errors, []);
});

test('Home shows a tape restore waiting for an offline tape, with where to put it, and opens the job', async () => {
  const { page } = session;
  const target = join(await tempDir(), 'from-tape');
  await session.lifeboat('restore', 'tape', 'lab-web-01', '--point', 'latest', '--target', `local:${target}`, '--detach');
  await showView(page, 'Home');
  const waiting = page.getByRole('region', { name: 'Jobs waiting for you' });
  await waiting.getByText(/Insert tape LB0001L9 .*\. Put it in /).waitFor({ timeout: 60_000 });
  await waiting.getByText('Tape restore: lab-web-01').waitFor();
  await screenshot(page, 'home-waiting-light.png');
  assert.deepEqual(await axeViolations(page, 'Home with a waiting job'), []);
  await waiting.getByRole('button', { name: 'Open job lab-web-01' }).click();
  await page.waitForFunction(() => document.querySelector('nav [aria-current="page"]')?.textContent?.startsWith('Jobs') === true);
  assert.deepEqual(session.errors, []);
});
