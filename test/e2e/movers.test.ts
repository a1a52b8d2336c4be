// The Movers view as an operator meets it, in Debian's Chromium against a real `lifeboat serve`
// with the vCenter simulator as its host: add a mover in the form, see its join token and command
// once (copied with the button), see it listed as awaiting-join, be told the engine's sentence when
// a request is refused, remove it after a confirmation that says where its tasks go; axe finds
// nothing in light or dark.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import type { Page } from 'playwright';
import { axeViolations, launchChromium, pageErrors } from '../helpers/console-browser.ts';
import { tempDir } from '../helpers/env.ts';
import { cli, startServe } from '../helpers/serve-process.ts';
import { addSimulatorHostWithCli, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';

const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const home = join(dir, 'home');
const vcsimMissing = vcsimUnavailable();
const ANN_PASSWORD = 'ann-console-password';

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

test('an operator adds a mover, sees its join command once, and removes it', { skip: vcsimMissing ?? false }, async () => {
  const vc: Vcsim = await startVcsim();
  // Adding and removing movers is an administrator's; the console signs in with an account.
  await promisify(execFile)(
    process.execPath,
    [cli, '--home', home, 'accounts', 'add', 'ann', '--role', 'administrator', '--password-env', 'LB_TEST_ANN'],
    {
      env: { ...process.env, LB_TEST_ANN: ANN_PASSWORD },
      timeout: 60_000,
    },
  );
  const serve = await startServe(home);
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
  assert.match(command, /^lifeboat mover --engine \S+ --token (lbm1\.[A-Za-z0-9_-]+) --state \S+ --datastore \S+=\S+$/);
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
