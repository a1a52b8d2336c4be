// The LVM2 parsers on damaged bytes of a real PV (pvcreate/vgcreate/lvcreate on a loop device,
// an ext4 written into the LV): the label sectors, the metadata area header, and the metadata
// text itself (its checksums made right again so the damaged text reaches the parser). Every
// browse of the whole VM ends, quickly, with data or with our own clear error.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { isReadFailure } from '../../electron/filesystems/file-system.ts';
import { lvmCrc } from '../../electron/filesystems/lvm/crc.ts';
import { parseMetadataText } from '../../electron/filesystems/lvm/metadata-text.ts';
import { readVolumeGroup } from '../../electron/filesystems/lvm/volume-group.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { tempDir } from '../helpers/env.ts';
import { run } from '../helpers/ext4-images.ts';
import { withLvm } from '../helpers/lvm-images.ts';

const MIB = 1024 * 1024;
const MAX_BROWSE_MS = 2000;
const MDA = 4096; // where pvcreate puts the first metadata area
const skip = process.getuid?.() !== 0 ? 'needs root: loop devices and lvm2' : false;

/** Lists everything below / (bounded), reading the start of each file; returns entries seen. */
async function browseAll(browser: PointBrowser): Promise<number> {
  let seen = 0;
  const queue = ['/'];
  while (queue.length > 0 && seen < 300) {
    const path = queue.shift() as string;
    let entries;
    try {
      entries = await browser.list(path);
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      continue;
    }
    for (const entry of entries) {
      seen++;
      const child = `${path === '/' ? '' : path}/${entry.name}`;
      if (entry.type === 'dir') queue.push(child);
      else if (entry.type === 'file') {
        try {
          for await (const chunk of browser.read(child)) if (chunk.length >= 0) break;
        } catch (error) {
          if (!isReadFailure(error)) throw error;
        }
      }
    }
  }
  return seen;
}

async function survives(bytes: Buffer): Promise<void> {
  const started = performance.now();
  try {
    await browseAll(await PointBrowser.fromDisks([new BytesDisk(bytes, 'fuzzed PV')]));
  } catch (error) {
    assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
  }
  assert.ok(performance.now() - started < MAX_BROWSE_MS, 'a damaged PV must not hang the browse');
}

/** A real PV with one VG and an LV holding a small ext4 (mke2fs -d). */
async function realPv(): Promise<Buffer> {
  const dir = await tempDir('lifeboat-lvm-fuzz-');
  const files = join(dir, 'files');
  await mkdir(join(files, 'a'), { recursive: true });
  await writeFile(join(files, 'a', 'note.txt'), 'hello\n');
  const fs = join(dir, 'root.img');
  run('mke2fs', '-q', '-F', '-t', 'ext4', '-d', files, fs, '4M');
  const image = join(dir, 'pv.img');
  await writeFile(image, '');
  await truncate(image, 8 * MIB);
  const vg = `lbf${randomBytes(4).toString('hex')}`;
  let bytes = Buffer.alloc(0);
  await withLvm(async (lvm) => {
    const device = lvm.attach(image);
    lvm.run('pvcreate', '-q', device);
    lvm.run('vgcreate', '-q', '-s', '1M', vg, device);
    lvm.run('lvcreate', '-q', '--activate', 'n', '--zero', 'n', '-L', '4M', '-n', 'root', vg);
    await lvm.writeIntoLv(vg, 'root', fs);
    bytes = await readFile(image); // before withLvm removes the VG
  });
  return bytes;
}

const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 12 });

function damage(image: Buffer, changes: [number, number][], from: number, length: number): Buffer {
  const copy = Buffer.from(image);
  for (const [at, xor] of changes) {
    const index = from + (at % length);
    copy[index] = (copy[index] as number) ^ xor;
  }
  return copy;
}

/** Where the committed metadata text lies (it does not wrap in a fresh 1 MiB area). */
function textLocation(image: Buffer): { offset: number; size: number } {
  return { offset: MDA + Number(image.readBigUInt64LE(MDA + 40)), size: Number(image.readBigUInt64LE(MDA + 48)) };
}

/** Checksums made right again after the text was changed, so the parser sees the damage. */
function resealed(image: Buffer): Buffer {
  const copy = Buffer.from(image);
  const { offset, size } = textLocation(copy);
  copy.writeUInt32LE(lvmCrc(copy.subarray(offset, offset + size)), MDA + 56);
  copy.writeUInt32LE(lvmCrc(copy.subarray(MDA + 4, MDA + 512)), MDA);
  return copy;
}

test('a PV with damaged label, metadata area header or metadata text: data or a clear error, never a hang', { skip }, async () => {
  const image = await realPv();
  const browser = await PointBrowser.fromDisks([new BytesDisk(image, 'real PV')]);
  const [group] = await browser.list('/lvm');
  assert.ok(group);
  assert.deepEqual(
    (await browser.list(`/lvm/${group.name}/root/a`)).map((entry) => entry.name),
    ['note.txt'],
  );
  assert.ok((await browseAll(browser)) >= 4);

  await fc.assert(
    fc.asyncProperty(edits, (changes) => survives(damage(image, changes, 0, 4 * 512))),
    { numRuns: 60 },
  );
  await fc.assert(
    fc.asyncProperty(edits, (changes) => survives(damage(image, changes, MDA, 512))),
    { numRuns: 60 },
  );
  const { offset, size } = textLocation(image);
  await fc.assert(
    fc.asyncProperty(edits, (changes) => survives(resealed(damage(image, changes, offset, size)))),
    { numRuns: 120 },
  );
});

test('the metadata text parser on mangled real text: a volume group or a clear error', async () => {
  const text = `vg0 {
id = "IqCoJI-upTe-klBF-leau-bC52-6deK-Ye3gul"
seqno = 3
status = ["RESIZEABLE", "READ", "WRITE"]
extent_size = 8192 # 4 MiB
physical_volumes {
pv0 {
id = "nZpoI3-5T8H-ND1v-75lL-osc5-1rJr-GmdvLz"
device = "/dev/sda2\\"quoted\\""
pe_start = 2048
pe_count = 15
}
}
logical_volumes {
root {
id = "mGu0eV-VF68-vN1A-bndD-KPFZ-Noe6-v6ltKi"
status = ["READ", "WRITE", "VISIBLE"]
segment_count = 1
segment1 {
start_extent = 0
extent_count = 2
type = "striped"
stripe_count = 1
stripes = [
"pv0", 0
]
}
}
}
}
contents = "Text Format Volume Group"
`;
  const vg = readVolumeGroup(parseMetadataText(text));
  assert.equal(vg.name, 'vg0');
  assert.equal(vg.extentSize, 4 * MIB);
  assert.deepEqual(
    vg.lvs.map((lv) => [lv.name, lv.extents, lv.visible]),
    [['root', 2, true]],
  );
  const mangle = fc.array(
    fc.tuple(fc.nat(), fc.nat({ max: 2 }), fc.constantFrom('{', '}', '[', ']', '"', '=', ',', '\\', '#', '\n', '9', '-', 'x')),
    {
      minLength: 1,
      maxLength: 10,
    },
  );
  fc.assert(
    fc.property(mangle, (changes) => {
      let mangled = text;
      for (const [at, how, char] of changes) {
        const index = at % mangled.length;
        if (how === 0) mangled = mangled.slice(0, index) + mangled.slice(index + 1);
        else if (how === 1) mangled = mangled.slice(0, index) + char + mangled.slice(index);
        else mangled = mangled.slice(0, index) + char + mangled.slice(index + 1);
      }
      try {
        readVolumeGroup(parseMetadataText(mangled));
      } catch (error) {
        assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
      }
    }),
    { numRuns: 2000 },
  );
  // Deep nesting and endless arrays are refused, not recursed into.
  assert.throws(() => parseMetadataText('a {'.repeat(100_000)), /nest deeper/);
  assert.throws(() => parseMetadataText(`a = [${'1,'.repeat(200_000)}1]`), /more than/);
});
