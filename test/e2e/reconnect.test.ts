// The browser console when its engine goes away and comes back: a banner says at once that the
// engine is unreachable (and that what is shown is as of then), the console reconnects by itself
// with its session key once `lifeboat serve` runs again on the same port, stays signed in and
// fetches everything again; a reload after the restart works too (the key outlived the engine).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { axeViolations, launchChromium } from '../helpers/console-browser.ts';
import { tempDir } from '../helpers/env.ts';
import { cli, startServe } from '../helpers/serve-process.ts';

const run = promisify(execFile);
const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const home = join(dir, 'home');
const PASSWORD = 'bea-console-password';

await run(process.execPath, [cli, '--home', home, 'accounts', 'add', 'bea', '--role', 'operator', '--password-env', 'LB_TEST_BEA'], {
  timeout: 120_000,
  env: { ...process.env, LB_TEST_BEA: PASSWORD },
});
const first = await startServe(home);
const browser = await launchChromium();
after(() => browser.close());

test('the console says the engine is gone, reconnects to the restarted engine by itself, and stays signed in', async () => {
  const page = await browser.newPage();
  const pageFailures: string[] = [];
  page.on('pageerror', (error) => pageFailures.push(error.message));
  await page.goto(first.printed.url);
  await page.getByLabel('User').fill('bea');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor(); // Home, the first view

  await first.stop();
  const banner = page.getByRole('alert').filter({ hasText: 'The engine is unreachable' });
  await banner.waitFor({ timeout: 10_000 });
  await banner.getByText(/Reconnecting \(attempt \d+\); jobs and figures shown are as they were then/).waitFor();
  assert.deepEqual(await axeViolations(page, 'the unreachable-engine banner'), []);
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, 'console-engine-unreachable.png'), fullPage: true });

  // The same engine home, the same port: the tab's session key is still good.
  const second = await startServe(home, '--port', String(first.port));
  await banner.waitFor({ state: 'detached', timeout: 30_000 });
  await page.getByRole('status', { name: 'Signed in' }).filter({ hasText: 'bea' }).waitFor();
  await page.getByRole('navigation').getByRole('button', { name: /^Jobs/ }).click();
  await page.getByText('No jobs yet.').waitFor();

  await page.reload();
  await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor();
  await page.getByRole('status', { name: 'Signed in' }).filter({ hasText: 'bea' }).waitFor();
  assert.deepEqual(pageFailures, []);
  await second.stop();
});
