// The tape library commands of the CLI against a real library behind one-way CHAP (tgt on
// loopback): `tape library add` shows what it found and keeps the CHAP secret in the secret store,
// never in the catalog; `tape inventory` shows the real changer and drives; `list`, `use virtual`
// and `remove`; a wrong secret or no secret, a drive's LUN as the changer, and a path that is no
// sg device are refused and nothing is stored.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';
import { tempDir } from '../helpers/env.ts';

const skip = await tgtUnavailable();
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const CHAP = { user: 'lifeboat', secret: 'a-chap-secret-of-16' };

let tgt: TgtLibrary | null = null;
let home = '';
if (!skip) {
  const dir = await tempDir('lifeboat-tape-cli-');
  home = join(dir, 'home');
  tgt = await startTgtLibrary(join(dir, 'tgt'), {
    drives: 2,
    slots: 4,
    mailslots: 1,
    tapes: [{ barcode: 'CLI001', sizeMiB: 8 }],
    chap: CHAP,
  });
}
after(() => tgt?.stop());

function lifeboat(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cli, '--home', home, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function library(): TgtLibrary {
  assert.ok(tgt);
  return tgt;
}

test('add without the CHAP secret, or with a wrong one, is refused and stores nothing', { skip: skip ?? false }, () => {
  const { url } = library();
  const none = lifeboat(['tape', 'library', 'add', url]);
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, new RegExp(`tape library ".*" at ${url.replace(/[.]/g, '\\.')}`));
  const wrong = lifeboat(['tape', 'library', 'add', url, '--chap-user', CHAP.user, '--chap-secret-env', 'CHAP_SECRET'], {
    CHAP_SECRET: 'not-the-secret-16',
  });
  assert.notEqual(wrong.status, 0);
  const half = lifeboat(['tape', 'library', 'add', url, '--chap-user', CHAP.user]);
  assert.equal(half.status, 2, 'a usage error');
  // --lun names the changer: a drive's LUN is refused.
  const drive = lifeboat(['tape', 'library', 'add', url, '--lun', '1', '--chap-user', CHAP.user, '--chap-secret-env', 'CHAP_SECRET'], {
    CHAP_SECRET: CHAP.secret,
  });
  assert.notEqual(drive.status, 0);
  assert.match(drive.stderr, /LUN 1 of iscsi:\/\/.* is a IET VIRTUAL-TAPE \(peripheral type 1\), not a media changer/);
  // What is no SCSI generic device is refused, naming it.
  const sg = lifeboat(['tape', 'library', 'add', 'sg:/dev/null']);
  assert.notEqual(sg.status, 0);
  // With the SG_IO addon built the device is refused; without it, the transport is (both name it).
  assert.match(
    sg.stderr,
    /tape library "null" at sg:\/dev\/null: (\/dev\/null is not a Linux SCSI generic device|SCSI generic devices cannot be used here)/,
  );
  const list = lifeboat(['--json', 'tape', 'library', 'list']);
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { libraries: unknown[] }).libraries, []);
});

test('add shows the changer and the drives, and the secret stays out of the catalog', { skip: skip ?? false }, async () => {
  const { url, luns } = library();
  const added = lifeboat(
    [
      'tape',
      'library',
      'add',
      url,
      '--name',
      'vtl',
      '--lun',
      String(luns.changer),
      '--chap-user',
      CHAP.user,
      '--chap-secret-env',
      'CHAP_SECRET',
    ],
    {
      CHAP_SECRET: CHAP.secret,
    },
  );
  assert.equal(added.status, 0, added.stderr);
  assert.match(added.stdout, /added tape library vtl; tape jobs now use it/);
  assert.match(added.stdout, new RegExp(`library: vtl \\(iSCSI\\) ${url.replace(/[.]/g, '\\.')}`));
  assert.match(added.stdout, /changer: IET VIRTUAL-CHANGER/);
  assert.match(added.stdout, /drive 1 \(element 1\): IET VIRTUAL-TAPE/);
  assert.match(added.stdout, /drive 2 \(element 2\): IET VIRTUAL-TAPE/);
  assert.match(added.stdout, /CLI001\s+slot 1/);
  const catalog = await readFile(join(home, 'catalog.sqlite'));
  assert.equal(catalog.includes(Buffer.from(CHAP.secret)), false, 'the CHAP secret is not in the catalog');
  assert.ok(catalog.includes(Buffer.from(CHAP.user)), 'the CHAP user is');

  // A new CLI process: the engine reconnects with the stored secret on first use.
  const inventory = lifeboat(['tape', 'inventory']);
  assert.equal(inventory.status, 0, inventory.stderr);
  assert.match(inventory.stdout, /changer: IET VIRTUAL-CHANGER/);
  const list = lifeboat(['tape', 'library', 'list']);
  assert.match(list.stdout, new RegExp(`\\*\\s+vtl\\s+iscsi\\s+\\S+\\s+${luns.changer}\\s+${CHAP.user}`));
});

test('use virtual and remove: the virtual library is there to go back to', { skip: skip ?? false }, () => {
  const missing = lifeboat(['tape', 'library', 'use', 'virtual']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /no virtual library in this home/);
  assert.equal(lifeboat(['tape', 'library', 'create', '--slots', '4', '--drives', '1', '--mailslots', '1', '--tapes', '1']).status, 0);
  const inventory = lifeboat(['tape', 'inventory']);
  assert.match(inventory.stdout, /library: virtual/);
  const used = lifeboat(['tape', 'library', 'use', 'vtl']);
  assert.equal(used.status, 0, used.stderr);
  assert.match(used.stdout, /tape jobs now use vtl/);
  const removed = lifeboat(['tape', 'library', 'remove', 'vtl']);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(lifeboat(['tape', 'inventory']).stdout, /library: virtual/);
});
