// Every parser of outside bytes, fed random and mutated input: it returns or throws our own
// clear error, never crashes with anything else, and never hangs.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { ClientFrame } from '../../shared/contract.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { decodeMapFile, encodeMapFile, sha256Hex, BlockKind } from '../../electron/repository/block-map.ts';
import { parseDescriptor, writeFlatDescriptor } from '../../electron/disks/vmdk-descriptor.ts';
import { COWD_MAGIC, parseCowdHeader, parseSparseHeader, SPARSE_MAGIC } from '../../electron/disks/vmdk-sparse.ts';
import { parseSeSparseHeader, seSparseGrainSector, seSparseTableSector } from '../../electron/disks/vmdk-sesparse.ts';
import { decodeVmxBytes, escapeVmxValue, parseVmx, platformKeyOf, rewriteVmx, unescapeVmxValue } from '../../electron/disks/vmx.ts';
import { parseClientFrame } from '../../electron/rpc/frames.ts';
import { interpretResponse } from '../../electron/drivers/vsphere/soap-client.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';

const runs = { numRuns: 400 };

/** Each input must be parsed or refused with our own error, and quickly: a parser that loops
 * or backtracks badly on some input fails here instead of hanging a restore. */
const MAX_MS_PER_INPUT = 250;
let inputs = 0;

function onlyOurErrors(fn: () => unknown): void {
  const started = performance.now();
  inputs++;
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    assert.ok(error.message.length > 10);
  } finally {
    const elapsed = performance.now() - started;
    assert.ok(elapsed < MAX_MS_PER_INPUT, `one input took ${elapsed.toFixed(0)} ms`);
  }
}

after(() => console.log(`fuzz: ${inputs} inputs, each parsed or refused within ${MAX_MS_PER_INPUT} ms`));

function validSparseHeader(): Buffer {
  const header = Buffer.alloc(512);
  header.writeUInt32LE(SPARSE_MAGIC, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(3, 8);
  header.writeBigUInt64LE(2048n * 64n, 12);
  header.writeBigUInt64LE(128n, 20);
  header.writeUInt32LE(512, 44);
  header.writeBigUInt64LE(21n, 56);
  return header;
}

test('sparse VMDK header: valid one parses, mutations give clear errors', () => {
  assert.equal(parseSparseHeader(validSparseHeader(), 10 * 1024 * 1024, 't').grainSectors, 128);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(511), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.nat(2 ** 31),
      (edits, fileSize) => {
        const header = validSparseHeader();
        for (const [at, value] of edits) header[at] = value;
        onlyOurErrors(() => parseSparseHeader(header, fileSize, 'fuzz'));
      },
    ),
    runs,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => onlyOurErrors(() => parseSparseHeader(Buffer.from(bytes), 4096, 'fuzz'))),
    runs,
  );
});

test('VMDK descriptor: round trip, and arbitrary text never escapes as another error', () => {
  const parsed = parseDescriptor(writeFlatDescriptor(64 * 1024 * 1024, 'a-flat.vmdk'), 't');
  assert.deepEqual(parsed.extents, [{ access: 'RW', sectors: 131072, kind: 'FLAT', fileName: 'a-flat.vmdk', fileOffsetSectors: 0 }]);
  assert.throws(() => parseDescriptor('createType="monolithicFlat"\nRW 8 FLAT "../../etc/passwd" 0\n', 't'), /outside the VM folder/);
  const delta = parseDescriptor(
    'CID=0A1b2c3d\nparentCID=1234ABCD\ncreateType="vmfsSparse"\nparentFileNameHint="web.vmdk"\nRW 8 VMFSSPARSE "web-000001-delta.vmdk"\n',
    't',
  );
  assert.deepEqual(
    [delta.cid, delta.parentCid, delta.parentFileNameHint, delta.extents[0]?.kind],
    ['0a1b2c3d', '1234abcd', 'web.vmdk', 'VMFSSPARSE'],
  );
  assert.throws(
    () => parseDescriptor('createType="monolithicSparse"\nparentCID=1234abcd\nRW 8 SPARSE "d.vmdk"\n', 't'),
    /snapshot delta \(parentCID 1234abcd\) that names no parentFileNameHint/,
  );
  assert.throws(
    () => parseDescriptor('createType="vmfsSparseNew"\nRW 8 SPARSE "d.vmdk"\n', 't'),
    /createType "vmfsSparseNew" is not a VMDK type/,
  );
  assert.throws(() => parseDescriptor('createType="vmfs"\nRW 8 VMFSRDM "d-rdm.vmdk"\n', 't'), /extent type VMFSRDM is not supported/);
  assert.throws(
    () => parseDescriptor('CID=123456789\ncreateType="vmfs"\nRW 8 VMFS "d-flat.vmdk"\n', 't'),
    /CID "123456789" is not a 32-bit hex number/,
  );
  assert.equal(
    parseDescriptor('CID=7d62773\ncreateType="vmfs"\nRW 8 VMFS "d-flat.vmdk"\n', 't').cid,
    '07d62773',
    'qemu writes CIDs without leading zeros',
  );
  // The descriptor inside a monolithicSparse file: its extent line is not needed.
  assert.equal(
    parseDescriptor('CID=00000001\nparentCID=ffffffff\ncreateType="monolithicSparse"\n', 't', { embedded: true }).cid,
    '00000001',
  );
  const lines = fc.oneof(
    fc.string(),
    fc.constantFrom(
      'createType="monolithicFlat"',
      'createType="vmfsSparse"',
      'createType="seSparse"',
      'RW 2048 FLAT "x-flat.vmdk" 0',
      'RW 99999999999999999999 FLAT "x" 0',
      'RW 1 VMFSRDM "x"',
      'RW 8 VMFSSPARSE "x-delta.vmdk"',
      'RW 8 SESPARSE "x-sesparse.vmdk"',
      'parentCID=ffffffff',
      'parentCID=12345678',
      'CID=fffffffe',
      'CID=zz',
      'parentFileNameHint="C:\\VMs\\x.vmdk"',
      'RDONLY 4 ZERO',
    ),
  );
  fc.assert(
    fc.property(fc.array(lines, { maxLength: 20 }), fc.boolean(), (parts, embedded) =>
      onlyOurErrors(() => parseDescriptor(parts.join('\n'), 'fuzz', { embedded })),
    ),
    runs,
  );
});

function validCowdHeader(): Buffer {
  const header = Buffer.alloc(2048);
  header.writeUInt32LE(COWD_MAGIC, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(3, 8);
  header.writeUInt32LE(2048 * 64, 12); // 64 MiB
  header.writeUInt32LE(1, 16); // ESXi's one-sector grains
  header.writeUInt32LE(4, 20);
  header.writeUInt32LE(32, 24);
  return header;
}

test('COWD (vmfsSparse) header: valid one parses, mutations give clear errors', () => {
  const parsed = parseCowdHeader(validCowdHeader(), 1024 * 1024, 't');
  assert.deepEqual([parsed.grainSectors, parsed.gtesPerGt, parsed.gdEntries, parsed.descriptorSector], [1, 4096, 32, 0]);
  assert.throws(() => parseCowdHeader(validCowdHeader(), 2047, 't'), /shorter than 2048 bytes/);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(63), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.nat(2 ** 31), (edits, fileSize) => {
      const header = validCowdHeader();
      for (const [at, value] of edits) header[at] = value;
      onlyOurErrors(() => parseCowdHeader(header, fileSize, 'fuzz'));
    }),
    runs,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2100 }), (bytes) => onlyOurErrors(() => parseCowdHeader(Buffer.from(bytes), 4096, 'fuzz'))),
    runs,
  );
});

function validSeSparseHeader(): Buffer {
  const header = Buffer.alloc(512);
  const fields: [number, bigint][] = [
    [0, 0xcafebaben],
    [1, 0x200000001n],
    [2, 2048n * 64n],
    [3, 8n],
    [4, 64n],
    [10, 1n],
    [11, 1n],
    [16, 2n],
    [17, 1n],
    [18, 3n],
    [19, 64n],
    [24, 67n],
  ];
  for (const [index, value] of fields) header.writeBigUInt64LE(value, index * 8);
  return header;
}

test('seSparse header and table entries: valid ones decode, mutations and random entries give clear errors', () => {
  const layout = parseSeSparseHeader(validSeSparseHeader(), 1024 * 1024, 't');
  assert.deepEqual([layout.gdEntries, layout.tablesSector, layout.grainsSector], [4, 3, 67]);
  const entry = Buffer.alloc(8);
  entry.writeBigUInt64LE((3n << 60n) | (5n << 48n) | 2n, 0); // grain number 2 * 4096 + 5, rotated
  assert.equal(seSparseGrainSector(entry, 0, layout, 't'), 67 + (2 * 4096 + 5) * 8);
  entry.writeBigUInt64LE(0x1000000000000007n, 0);
  assert.equal(seSparseTableSector(entry, 0, layout, 't'), 3 + 7 * 64);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(511), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }),
      fc.nat(2 ** 31),
      (edits, fileSize) => {
        const header = validSeSparseHeader();
        for (const [at, value] of edits) header[at] = value;
        onlyOurErrors(() => parseSeSparseHeader(header, fileSize, 'fuzz'));
      },
    ),
    runs,
  );
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (value) => {
      const raw = Buffer.alloc(8);
      raw.writeBigUInt64LE(value, 0);
      onlyOurErrors(() => seSparseGrainSector(raw, 0, layout, 'fuzz'));
      onlyOurErrors(() => seSparseTableSector(raw, 0, layout, 'fuzz'));
    }),
    runs,
  );
});

test('.vmx: the lab file parses; arbitrary text (key safes too) gives clear errors', () => {
  const vmx = parseVmx(vmxText('vm1', ['vm1.vmdk', 'vm1_1.vmdk'], '00 11'), 't');
  assert.deepEqual(vmx.disks, [
    { key: 'scsi0:0', fileName: 'vm1.vmdk' },
    { key: 'scsi0:1', fileName: 'vm1_1.vmdk' },
  ]);
  assert.throws(() => parseVmx('displayName = "x"\nscsi0:0.fileName = "/vmfs/volumes/other/x.vmdk"\n', 't'), /outside the VM folder/);
  const keySafe = fc.string().map((text) => `encryption.keySafe = "${text.replace(/["\\|]/g, '')}"`);
  const lines = fc.oneof(
    fc.string(),
    keySafe,
    fc.constantFrom(
      'displayName = "a"',
      'scsi0:0.fileName = "a.vmdk"',
      'ide1:0.deviceType = "cdrom-image"',
      'ide1:0.fileName = "x.iso"',
      'x = "unterminated',
      'encryption.keySafe = "vmware:key/list/(pair/(fqid/<VMWARE%2dNULL>/kms/k%zz,HMAC))"',
    ),
  );
  fc.assert(
    fc.property(fc.array(lines, { maxLength: 20 }), (parts) => onlyOurErrors(() => platformKeyOf(parseVmx(parts.join('\n'), 'fuzz')))),
    runs,
  );
});

/** Lines as they occur in real VM folders (Workstation on Windows, ESXi, old hosts). */
const realWorldVmxLines = [
  '.encoding = "UTF-8"',
  '#!/usr/bin/vmware',
  '# Edited by hand',
  '',
  '   ',
  'config.version = "8"',
  'virtualHW.version = "21"',
  'displayName = "Windows 11 x64"',
  'firmware = "efi"',
  'guestOS = "windows11-64"',
  'nvram = "Windows 11 x64.nvram"',
  'sata0.present = "TRUE"',
  'sata0:1.deviceType = "cdrom-image"',
  'sata0:1.fileName = "C:\\Users\\Jane Doe\\Downloads\\Win11_23H2_EnglishInternational_x64v2.iso"',
  'sata0:1.present = "TRUE"',
  'ide1:0.deviceType = "atapi-cdrom"',
  'ide1:0.fileName = "auto detect"',
  'ide1:0.present = "TRUE"',
  'scsi0:1.deviceType = "cdrom-raw"',
  'scsi0:1.fileName = "/dev/sr0"',
  'floppy0.fileName = "C:\\floppy.img"',
  'floppy0.present = "FALSE"',
  'nvme0.present = "TRUE"',
  'nvme0:0.fileName = "Windows 11 x64.vmdk"',
  'nvme0:0.present = "TRUE"',
  'scsi0:0.fileName = "Windows 11 x64-1.vmdk"',
  'scsi0:2.present = "FALSE"',
  'scsi0:2.fileName = "/vmfs/volumes/other/detached.vmdk"',
  'annotation = "Built by Jane|0AUses |22quotes|22, a pipe |7C and a hash |23"',
  'ethernet0.connectionType = "nat"',
  'ethernet0.generatedAddress = "00:0c:29:ab:cd:ef"',
  'ethernet0.present = "TRUE"',
  'ethernet0.virtualDev = "e1000e"',
  'memsize = 4096',
  'numvcpus = "2" # two cores',
  'NumVCPUs = "4"',
  'sound.fileName = "-1"',
  'checkpoint.vmState = ""',
  'vmci0.id = "-1998708451"',
  'managedVM.autoAddVTPM = "software"',
  'tools.syncTime = "FALSE"',
  'guestinfo.note = "caf\u00e9 \u65e5\u672c"',
  'uuid.bios = "56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd"',
];

test('.vmx: real-world lines parse as VMware reads them', () => {
  const text = `\uFEFF${realWorldVmxLines.join('\r\n')}\r\n`;
  const vmx = parseVmx(text, 't');
  assert.deepEqual(vmx.disks, [
    { key: 'nvme0:0', fileName: 'Windows 11 x64.vmdk' },
    { key: 'scsi0:0', fileName: 'Windows 11 x64-1.vmdk' },
  ]);
  assert.equal(vmx.displayName, 'Windows 11 x64');
  assert.equal(vmx.entries.get('numvcpus'), '4', 'the last of duplicate keys wins, whatever its case');
  assert.equal(vmx.entries.get('memsize'), '4096', 'unquoted values (old files)');
  assert.equal(vmx.entries.get('annotation'), 'Built by Jane\nUses "quotes", a pipe | and a hash #');
  assert.equal(vmx.entries.get('sata0:1.filename'), 'C:\\Users\\Jane Doe\\Downloads\\Win11_23H2_EnglishInternational_x64v2.iso');
  // Unchanged lines come back byte for byte, line ends and BOM included; changed ones escaped.
  const rewritten = rewriteVmx(vmx, { displayName: 'Win "11" | #2', diskFiles: new Map([['nvme0:0', 'copy.vmdk']]), newIdentity: true });
  assert.ok(rewritten.startsWith('\uFEFF.encoding = "UTF-8"\r\n#!/usr/bin/vmware\r\n'));
  assert.ok(rewritten.includes('\r\ndisplayName = "Win |2211|22 |7C |232"\r\n'));
  assert.ok(rewritten.includes('\r\nnvme0:0.fileName = "copy.vmdk"\r\n'));
  assert.ok(!rewritten.includes('uuid.bios'));
  const kept = realWorldVmxLines.filter((line) => !/^(displayName|nvme0:0\.fileName|uuid\.bios)/.test(line));
  for (const line of kept) assert.ok(rewritten.slice(1).split('\r\n').includes(line), `kept: ${line}`);
  assert.equal(parseVmx(rewritten, 't').displayName, 'Win "11" | #2');
  // Another charset that .encoding names is read as such; bad bytes for it are one clear error.
  assert.equal(
    parseVmx(
      decodeVmxBytes(Buffer.from('.encoding = "windows-1252"\ndisplayName = "caf\xe9"\nscsi0:0.fileName = "a.vmdk"\n', 'latin1'), 't'),
      't',
    ).displayName,
    'caf\u00e9',
  );
  assert.throws(() => decodeVmxBytes(Buffer.from([0x61, 0x20, 0x3d, 0x20, 0x22, 0xff, 0xfe, 0x22]), 't'), /not valid UTF-8 text/);
  assert.throws(() => decodeVmxBytes(Buffer.from('.encoding = "klingon"\n'), 't'), /not a character set/);
  assert.throws(
    () => parseVmx('displayName = "x"\nscsi0:0.fileName = "x.vmdk"\nthis is not a line\n', 't'),
    /line 3 is not of the form key = "value"/,
  );
});

test('.vmx: escapes round trip for any text', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (value) => {
      assert.equal(unescapeVmxValue(escapeVmxValue(value)), value);
      const vmx = parseVmx(
        `displayName = "x${escapeVmxValue(value)}"\nscsi0:0.fileName = "d.vmdk"\nx.y = "${escapeVmxValue(value)}"\n`,
        't',
      );
      assert.equal(vmx.displayName, `x${value}`);
      assert.equal(vmx.entries.get('x.y'), value);
    }),
    runs,
  );
});

test('.vmx: damaged real-world files are parsed or refused clearly, and what parses rewrites to the same entries', () => {
  const realLine = fc.constantFrom(...realWorldVmxLines);
  const damagedLine = fc
    .tuple(realLine, fc.nat(80), fc.constantFrom('"', '|', '#', '=', '\\', '\r', ' ', '|2', '|zz', '\u00e9', ''))
    .map(([line, at, insert]) => line.slice(0, at) + insert + line.slice(at + 1));
  const truncatedLine = fc.tuple(realLine, fc.nat(80)).map(([line, at]) => line.slice(0, at));
  const lines = fc.oneof(realLine, realLine, damagedLine, truncatedLine, fc.string({ maxLength: 30 }));
  const file = (parts: fc.Arbitrary<string[]>) =>
    fc.tuple(parts, fc.boolean(), fc.boolean()).map(([lines, crlf, bom]) => `${bom ? '\uFEFF' : ''}${lines.join(crlf ? '\r\n' : '\n')}`);
  const rewritesToSameEntries = (text: string): boolean => {
    let parsed = false;
    onlyOurErrors(() => {
      const vmx = parseVmx(text, 'fuzz');
      parsed = true;
      platformKeyOf(vmx);
      const again = parseVmx(rewriteVmx(vmx, { displayName: vmx.displayName, diskFiles: new Map(), newIdentity: false }), 'fuzz');
      // Everything but .encoding, which a rewrite sets to UTF-8 (what the text now is).
      const withoutEncoding = (entries: Map<string, string>) => new Map([...entries].filter(([key]) => key !== '.encoding'));
      assert.deepEqual(withoutEncoding(again.entries), withoutEncoding(vmx.entries));
      assert.equal(again.entries.has('.encoding'), vmx.entries.has('.encoding'));
      assert.deepEqual(again.disks, vmx.disks);
    });
    return parsed;
  };
  fc.assert(
    fc.property(file(fc.array(lines, { maxLength: 40 })), (text) => void rewritesToSameEntries(text)),
    runs,
  );
  // Mostly real files, a few lines damaged: most parse, so the rewrite is exercised too.
  let parsed = 0;
  const mostlyReal = fc
    .array(fc.oneof(realLine, realLine, realLine, damagedLine), { maxLength: 30 })
    .map((parts) => ['displayName = "W"', 'scsi0:0.fileName = "W.vmdk"', ...parts]);
  fc.assert(
    fc.property(file(mostlyReal), (text) => {
      if (rewritesToSameEntries(text)) parsed++;
    }),
    runs,
  );
  assert.ok(parsed > runs.numRuns / 10, `only ${parsed} of ${runs.numRuns} mostly real files parsed`);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyOurErrors(() => parseVmx(decodeVmxBytes(bytes, 'fuzz'), 'fuzz'))),
    runs,
  );
});

test('block map files: round trip, and any corruption is caught', () => {
  const records = [3, 7, 8].map((index) => ({
    index,
    kind: BlockKind.data,
    codec: 1,
    dataFile: 1,
    offset: index * 1000 + 2 ** 33,
    storedLength: 900,
    rawLength: 4096,
    sha256: new Uint8Array(32).fill(index),
  }));
  const file = encodeMapFile(4096, records);
  const expected = { blockSize: 4096, blockCount: 16, sha256: sha256Hex(file), label: 't' };
  assert.deepEqual(
    decodeMapFile(file, expected).map((record) => record.offset),
    records.map((record) => record.offset),
  );
  fc.assert(
    fc.property(fc.nat(file.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, rehash) => {
      const damaged = Buffer.from(file);
      damaged[at] = (damaged[at] as number) ^ xor;
      // Even with a matching checksum (a forged map), structure checks must hold.
      onlyOurErrors(() => decodeMapFile(damaged, { ...expected, sha256: rehash ? sha256Hex(damaged) : expected.sha256 }));
    }),
    runs,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) =>
      onlyOurErrors(() => decodeMapFile(Buffer.from(bytes), { ...expected, sha256: sha256Hex(bytes) })),
    ),
    runs,
  );
});

test('wire frames and contract schemas: anything a peer sends is parsed or refused clearly', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (text) => onlyOurErrors(() => parseClientFrame(text))),
    runs,
  );
  fc.assert(
    fc.property(fc.jsonValue(), (value) => onlyOurErrors(() => parseClientFrame(JSON.stringify(value)))),
    runs,
  );
  assert.equal(ClientFrame.safeParse({ type: 'request', id: 1, channel: 'vms.list', payload: {} }).success, true);
  assert.throws(() => parseClientFrame('x'.repeat(2 * 1024 * 1024)), /larger than 1 MiB/);
});

test('SOAP responses from a host: any text gives a returnval or a clear error', () => {
  const ok =
    '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><LoginResponse xmlns="urn:vim25"><returnval><key>k</key></returnval></LoginResponse></soapenv:Body></soapenv:Envelope>';
  assert.deepEqual(interpretResponse('h', 'Login', 200, ok), { key: 'k' });
  const fault =
    '<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>';
  assert.throws(() => interpretResponse('h', 'Login', 500, fault), { code: 'unauthorized', message: /Login failure \(InvalidLogin\)/ });
  const pieces = fc.oneof(
    fc.string(),
    fc.constantFrom(
      '<soapenv:Envelope>',
      '</soapenv:Envelope>',
      '<soapenv:Body>',
      '</soapenv:Body>',
      '<soapenv:Fault>',
      '</soapenv:Fault>',
      '<detail>',
      '</detail>',
      '<LoginResponse>',
      '<returnval>',
      '</returnval>',
      '<faultstring>x</faultstring>',
      '<![CDATA[',
      '&amp;',
      '&bogus;',
    ),
  );
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => onlyOurErrors(() => interpretResponse('h', 'Login', 200, parts.join('')))),
    runs,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) =>
      onlyOurErrors(() => interpretResponse('h', 'Login', 200, Buffer.from(bytes).toString('latin1'))),
    ),
    runs,
  );
});
