// The Files view end to end through `lifeboat serve` and Debian's Chromium: a search hit opens its
// folder, two items go into the tray, the browser downloads them as a zip (checked with Python's
// zipfile), and the tree and the tray are as they were after a visit to another view; axe-clean
// in both themes, no page errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole } from '../helpers/console-session.ts';
import { tempDir } from '../helpers/env.ts';

const screenshots = join(import.meta.dirname, '..', '..', 'test', 'artifacts');
const dir = await tempDir();
const session = await startConsole({ vms: 1, points: 1 });
after(() => session.stop());
const nav = (name: string | RegExp) => session.page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true });

test('a search hit opens its folder, picked items download as a zip, the tree is kept across views', async () => {
  const { page, errors } = session;
  await nav('Files').click();
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
  await nav(/^Jobs/).click();
  await nav('Files').click();
  await page.getByRole('button', { name: 'Collapse operator' }).waitFor();
  assert.equal(await page.getByRole('checkbox', { name: 'Pick /disk0/part1/home/operator/notes.txt' }).isChecked(), true);
  assert.equal(await page.getByRole('treeitem', { selected: true }).getByRole('button', { name: 'notes.txt', exact: true }).count(), 1);
  assert.equal(await tray.getByRole('listitem').count(), 2);

  await page
    .getByLabel('Search results')
    .getByRole('button', { name: /\/disk0\/part1\/home\/operator\/notes\.txt/ })
    .waitFor();

  // Dark theme: still axe-clean.
  await page.evaluate(() => document.documentElement.classList.add('pf-v6-theme-dark'));
  await page.screenshot({ path: join(screenshots, 'files-tray-dark.png'), fullPage: true });
  assert.deepEqual(await axeViolations(page, 'files view, dark'), []);
  assert.deepEqual(errors, []);
});
