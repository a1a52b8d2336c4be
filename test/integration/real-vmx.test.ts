// A VM folder as Workstation on Windows leaves it: CRLF line ends and a BOM, comments and blank
// lines, a CD-ROM pointing at a Windows ISO path that does not exist here, an ATAPI drive, a
// floppy, a disk on a controller that is absent, |XX escapes, duplicate and unknown keys, an
// unquoted value. It backs up (only its two disks) and restores bit-identical, and the restored
// .vmx keeps every line it did not have to change byte for byte.
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseVmx } from '../../electron/disks/vmx.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const NAME = 'Windows 11 x64';
const vmxLines = [
  '.encoding = "UTF-8"',
  '#!/usr/bin/vmware',
  '# Made by VMware Workstation 17, then edited by hand',
  '',
  'config.version = "8"',
  'virtualHW.version = "21"',
  `displayName = "${NAME}"`,
  'firmware = "efi"',
  'guestOS = "windows11-64"',
  'memsize = 4096',
  'numvcpus = "2"',
  'NUMVCPUS = "4"',
  'annotation = "Jane|27s lab VM|0AUses |22quotes|22 and a pipe |7C"',
  'sata0.present = "TRUE"',
  'sata0:1.deviceType = "cdrom-image"',
  'sata0:1.fileName = "C:\\Users\\Jane Doe\\Downloads\\Win11_23H2_EnglishInternational_x64v2.iso"',
  'sata0:1.present = "TRUE"',
  'ide1:0.deviceType = "atapi-cdrom"',
  'ide1:0.fileName = "auto detect"',
  'ide1:0.present = "TRUE"',
  'floppy0.fileName = "A:"',
  'floppy0.present = "FALSE"',
  'nvme0.present = "TRUE"',
  `nvme0:0.fileName = "${NAME}.vmdk"`,
  'nvme0:0.present = "TRUE"',
  'scsi0.present = "TRUE"',
  'scsi0.virtualDev = "lsisas1068"',
  `scsi0:1.fileName = "${NAME}-data.vmdk"`,
  'scsi0:1.present = "TRUE"',
  'scsi1.present = "FALSE"',
  'scsi1:0.fileName = "D:\\old\\gone.vmdk"',
  'ethernet0.present = "TRUE"',
  'ethernet0.connectionType = "nat"',
  'ethernet0.virtualDev = "e1000e"',
  'ethernet0.generatedAddress = "00:0c:29:ab:cd:ef"',
  'managedVM.autoAddVTPM = "software"',
  'vmci0.id = "-1998708451"',
  'tools.syncTime = "FALSE" # keep the guest clock',
  'uuid.bios = "56 4d 9a 0b 11 22 33 44-55 66 77 88 99 aa bb cc"',
  'uuid.location = "56 4d 9a 0b 11 22 33 44-55 66 77 88 99 aa bb cc"',
];

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);
const folder = join(dir, NAME);
await mkdir(folder);
const raws = [join(dir, 'system.raw'), join(dir, 'data.raw')];
await writeMixedRaw(raws[0] as string, 6, 3);
await writeMixedRaw(raws[1] as string, 3, 4);
qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raws[0] as string, join(folder, `${NAME}.vmdk`));
qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raws[1] as string, join(folder, `${NAME}-data.vmdk`));
const vmxText = `\uFEFF${vmxLines.join('\r\n')}\r\n`;
await writeFile(join(folder, `${NAME}.vmx`), vmxText);
await writeFile(join(folder, `${NAME}.nvram`), 'nvram');

test('the .vmx reads as VMware reads it: two disks, the last of duplicate keys, escapes undone', () => {
  const vmx = parseVmx(vmxText, 't');
  assert.deepEqual(vmx.disks, [
    { key: 'nvme0:0', fileName: `${NAME}.vmdk` },
    { key: 'scsi0:1', fileName: `${NAME}-data.vmdk` },
  ]);
  assert.equal(vmx.entries.get('numvcpus'), '4');
  assert.equal(vmx.entries.get('annotation'), 'Jane\'s lab VM\nUses "quotes" and a pipe |');
});

test('backup keeps the two disks and the configuration as it was; restore is identical', async () => {
  const backup = await runJob(engine, await engine.backups.start(folder, 'test'));
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  const [point] = await api.invoke('points.list', { vm: NAME });
  assert.deepEqual(
    point?.disks.map((disk) => disk.key),
    ['nvme0:0', 'scsi0:1'],
  );
  assert.equal(point?.health.state, 'ok');

  const same = join(dir, 'same');
  const restored = await runJob(
    engine,
    await engine.restores.start({ vm: NAME, point: 'latest', target: { kind: 'local', path: same } }, 'test'),
  );
  assert.equal(restored.state, 'succeeded', restored.error ?? '');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[0] as string, join(same, `${NAME}.vmdk`)), /identical/);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[1] as string, join(same, `${NAME}-data.vmdk`)), /identical/);
  // Same name, same disk names: the configuration comes back byte for byte.
  assert.equal(await readFile(join(same, `${NAME}.vmx`), 'utf8'), vmxText);

  const renamed = join(dir, 'renamed');
  const copy = await runJob(
    engine,
    await engine.restores.start({ vm: NAME, point: 'latest', newName: 'win11-copy', target: { kind: 'local', path: renamed } }, 'test'),
  );
  assert.equal(copy.state, 'succeeded', copy.error ?? '');
  assert.deepEqual((await readdir(renamed)).sort(), [
    'win11-copy-flat.vmdk',
    'win11-copy.vmdk',
    'win11-copy.vmx',
    'win11-copy_1-flat.vmdk',
    'win11-copy_1.vmdk',
  ]);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[1] as string, join(renamed, 'win11-copy_1.vmdk')), /identical/);
  const text = await readFile(join(renamed, 'win11-copy.vmx'), 'utf8');
  assert.ok(text.startsWith('\uFEFF'));
  const lines = text.slice(1).split('\r\n');
  const changed = new Map([
    ['displayName', 'displayName = "win11-copy"'],
    ['nvme0:0.fileName', 'nvme0:0.fileName = "win11-copy.vmdk"'],
    ['scsi0:1.fileName', 'scsi0:1.fileName = "win11-copy_1.vmdk"'],
  ]);
  const expected = vmxLines.filter((line) => !line.startsWith('uuid.')).map((line) => changed.get(line.split(' = ')[0] as string) ?? line);
  assert.deepEqual(lines, [...expected, '']);
  assert.equal(parseVmx(text, 't').disks.length, 2);
});

test('the OVF template reads the same configuration', async () => {
  const job = await runJob(
    engine,
    (await api.invoke('restore.disks', { vm: NAME, point: 'latest', target: { kind: 'local', path: join(dir, 'ovf') }, template: 'ovf' }))
      .job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const ovf = await readFile(join(dir, 'ovf', `${NAME}.ovf`), 'utf8');
  assert.match(ovf, /4 virtual CPU/);
  assert.match(ovf, /4096MB of memory/);
});

test('a .vmx an old Windows host wrote in windows-1252 backs up and restores as UTF-8 that says so', async () => {
  const old = join(dir, 'old');
  await mkdir(old);
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicFlat', raws[1] as string, join(old, 'old.vmdk'));
  const text =
    '.encoding = "windows-1252"\r\ndisplayName = "Caf\xe9 r\xe9seau"\r\nannotation = "\xa9 2009"\r\nscsi0.present = "TRUE"\r\nscsi0:0.fileName = "old.vmdk"\r\n';
  await writeFile(join(old, 'old.vmx'), Buffer.from(text, 'latin1'));
  const backup = await runJob(engine, await engine.backups.start(old, 'test'));
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  const target = join(dir, 'old-restored');
  const restored = await runJob(
    engine,
    await engine.restores.start({ vm: 'Café réseau', point: 'latest', target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(restored.state, 'succeeded', restored.error ?? '');
  const written = await readFile(join(target, 'Café réseau.vmx'));
  assert.equal(
    written.toString('utf8'),
    '.encoding = "UTF-8"\r\ndisplayName = "Café réseau"\r\nannotation = "© 2009"\r\nscsi0.present = "TRUE"\r\nscsi0:0.fileName = "old.vmdk"\r\n',
  );
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raws[1] as string, join(target, 'old.vmdk')), /identical/);
});
