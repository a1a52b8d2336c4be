// Layers we do not read, named in the listing instead of called damaged: LUKS1/2 made by
// cryptsetup, swap by mkswap, GPT partitions typed by sgdisk (BIOS boot, MSR, Windows LDM
// metadata and data), an MBR dynamic-disk partition (0x42), and md RAID members and BitLocker by
// their on-disk signatures (md needs the kernel's md driver to be made by mdadm). Volumes with
// nothing to read are no index gap; those whose content we cannot read are, by name.
import assert from 'node:assert/strict';
import { open, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { tempDir } from '../helpers/env.ts';
import { run } from '../helpers/ext4-images.ts';

const MIB = 1024 * 1024;
const MD_MAGIC = 0xa92b4efc;
const skip = process.getuid?.() !== 0 ? 'needs root: cryptsetup on files (as CI runs it)' : false;

async function emptyImage(path: string, bytes: number): Promise<void> {
  await writeFile(path, '');
  await truncate(path, bytes);
}

async function writeAt(image: string, offset: number, bytes: Buffer): Promise<void> {
  const handle = await open(image, 'r+');
  try {
    await handle.write(bytes, 0, bytes.length, offset);
  } finally {
    await handle.close();
  }
}

function partitionStart(image: string, index: number): number {
  return Number(/First sector: (\d+)/.exec(run('sgdisk', '-i', String(index), image))?.[1]) * 512;
}

/** An md superblock 1.x as mdadm writes it: magic, major version 1, array name, level. */
function mdSuperblock1(name: string, level: number): Buffer {
  const sb = Buffer.alloc(256);
  sb.writeUInt32LE(MD_MAGIC, 0);
  sb.writeUInt32LE(1, 4);
  sb.write(name, 32, 'latin1');
  sb.writeInt32LE(level, 72);
  return sb;
}

test('LUKS, md RAID, dynamic disks, BitLocker, swap, MSR and BIOS boot are named; only unreadable content is a gap', { skip }, async () => {
  const dir = await tempDir('lifeboat-layers-');
  const key = join(dir, 'key');
  await writeFile(key, 'not a real secret');
  const luks = async (type: string, mib: number, extra: string[]): Promise<string> => {
    const file = join(dir, `${type}.img`);
    await emptyImage(file, mib * MIB);
    run('cryptsetup', 'luksFormat', '--type', type, '--batch-mode', '--key-file', key, ...extra, file);
    return file;
  };
  const luks2 = await luks('luks2', 4, [
    '--pbkdf',
    'pbkdf2',
    '--pbkdf-force-iterations',
    '1000',
    '--luks2-metadata-size',
    '16k',
    '--luks2-keyslots-size',
    '1m',
  ]);
  const luks1 = await luks('luks1', 4, ['--pbkdf-force-iterations', '1000']);
  const swap = join(dir, 'swap.img');
  await emptyImage(swap, 4 * MIB);
  run('mkswap', '-q', swap);

  const gpt = join(dir, 'gpt.img');
  await emptyImage(gpt, 48 * MIB);
  // prettier-ignore
  run('sgdisk',
    '-n', '1:2048:+1M', '-t', '1:ef02', '-n', '2:0:+4M', '-t', '2:0c01', '-n', '3:0:+4M', '-t', '3:8200',
    '-n', '4:0:+4M', '-t', '4:8309', '-n', '5:0:+4M', '-t', '5:8309', '-n', '6:0:+4M', '-t', '6:fd00',
    '-n', '7:0:+4M', '-t', '7:4201', '-n', '8:0:+4M', '-t', '8:4200', '-n', '9:0:+4M', '-t', '9:0700', gpt);
  const copyInto = (file: string, index: number): string =>
    run('dd', `if=${file}`, `of=${gpt}`, 'bs=1M', `seek=${partitionStart(gpt, index)}`, 'oflag=seek_bytes', 'conv=notrunc', 'status=none');
  copyInto(swap, 3);
  copyInto(luks2, 4);
  copyInto(luks1, 5);
  await writeAt(gpt, partitionStart(gpt, 6) + 4096, mdSuperblock1('web:0', 1)); // metadata 1.2: 4 KiB in
  const bitlocker = Buffer.alloc(512);
  bitlocker.write('\xeb\x58\x90-FVE-FS-', 0, 'latin1');
  await writeAt(gpt, partitionStart(gpt, 9), bitlocker);

  // MBR: a dynamic-disk partition (0x42) and an md 0.90 member (superblock in the last 64 KiB block).
  const mbr = join(dir, 'mbr.img');
  await emptyImage(mbr, 16 * MIB);
  run('sgdisk', '-o', mbr); // a clean slate, then an MBR written over it by hand below
  const sector = Buffer.alloc(512);
  const entry = (slot: number, type: number, lba: number, count: number): void => {
    sector[446 + slot * 16 + 4] = type;
    sector.writeUInt32LE(lba, 446 + slot * 16 + 8);
    sector.writeUInt32LE(count, 446 + slot * 16 + 12);
  };
  entry(0, 0x42, 2048, 8192);
  entry(1, 0xfd, 10240, 8192);
  sector.writeUInt16LE(0xaa55, 510);
  await writeAt(mbr, 0, sector);
  await writeAt(mbr, 512, Buffer.alloc(512)); // no GPT header left behind
  const md090 = Buffer.alloc(64);
  md090.writeUInt32LE(MD_MAGIC, 0);
  md090.writeUInt32LE(0, 4);
  md090.writeInt32LE(5, 28);
  const memberBytes = 8192 * 512;
  await writeAt(mbr, 10240 * 512 + Math.floor(memberBytes / 65536) * 65536 - 65536, md090);

  const browser = await PointBrowser.fromDisks([await RawDisk.open(gpt), await RawDisk.open(mbr)]);
  try {
    assert.deepEqual(
      (await browser.list('/')).map((entry) => entry.name),
      ['disk0', 'disk1'],
    );
    assert.deepEqual(
      (await browser.list('/disk0')).map((entry) => [entry.name, entry.type, entry.target, entry.problem ?? null]),
      [
        ['part1', 'other', 'BIOS boot partition (holds no files)', null],
        ['part2', 'other', 'Microsoft reserved partition (MSR, holds no files)', null],
        ['part3', 'other', 'Linux swap (holds no files)', null],
        ['part4', 'other', 'LUKS2 encrypted volume: not read', 'LUKS2 encrypted volume: not read'],
        ['part5', 'other', 'LUKS1 encrypted volume: not read', 'LUKS1 encrypted volume: not read'],
        [
          'part6',
          'other',
          'md RAID member (metadata 1.2, raid1, array "web:0"): not read',
          'md RAID member (metadata 1.2, raid1, array "web:0"): not read',
        ],
        [
          'part7',
          'other',
          'Windows dynamic disk (LDM) metadata partition: not read',
          'Windows dynamic disk (LDM) metadata partition: not read',
        ],
        ['part8', 'other', 'Windows dynamic disk (LDM) volume: not read', 'Windows dynamic disk (LDM) volume: not read'],
        ['part9', 'other', 'BitLocker encrypted volume: not read', 'BitLocker encrypted volume: not read'],
      ],
    );
    assert.deepEqual(
      (await browser.list('/disk1')).map((entry) => [entry.name, entry.problem]),
      [
        ['part1', 'Windows dynamic disk (LDM) volume: not read'],
        ['part2', 'md RAID member (metadata 0.90, raid5): not read'],
      ],
    );
    // The index: gaps name what they are; swap, MSR and BIOS boot are no gap.
    assert.deepEqual(
      browser.volumes().map((volume) => volume.path),
      ['/disk0/part4', '/disk0/part5', '/disk0/part6', '/disk0/part7', '/disk0/part8', '/disk0/part9', '/disk1/part1', '/disk1/part2'],
    );
    assert.ok(browser.volumes().every((volume) => volume.problem?.endsWith(': not read')));
    await assert.rejects(browser.list('/disk0/part3'), /Linux swap \(holds no files\); no files to read/);
    await assert.rejects(browser.list('/disk0/part4/etc'), /LUKS2 encrypted volume: not read/);
  } finally {
    await browser.close();
  }
});
