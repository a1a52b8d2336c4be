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
import { parseVmx, platformKeyOf } from '../../electron/disks/vmx.ts';
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
    fc.property(fc.array(fc.tuple(fc.nat(511), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.nat(2 ** 31), (edits, fileSize) => {
      const header = validSparseHeader();
      for (const [at, value] of edits) header[at] = value;
      onlyOurErrors(() => parseSparseHeader(header, fileSize, 'fuzz'));
    }),
    runs,
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => onlyOurErrors(() => parseSparseHeader(Buffer.from(bytes), 4096, 'fuzz'))), runs);
});

test('VMDK descriptor: round trip, and arbitrary text never escapes as another error', () => {
  const parsed = parseDescriptor(writeFlatDescriptor(64 * 1024 * 1024, 'a-flat.vmdk'), 't');
  assert.deepEqual(parsed.extents, [{ access: 'RW', sectors: 131072, kind: 'FLAT', fileName: 'a-flat.vmdk', fileOffsetSectors: 0 }]);
  assert.throws(() => parseDescriptor('createType="monolithicFlat"\nRW 8 FLAT "../../etc/passwd" 0\n', 't'), /outside the VM folder/);
  const delta = parseDescriptor('CID=0A1b2c3d\nparentCID=1234ABCD\ncreateType="vmfsSparse"\nparentFileNameHint="web.vmdk"\nRW 8 VMFSSPARSE "web-000001-delta.vmdk"\n', 't');
  assert.deepEqual([delta.cid, delta.parentCid, delta.parentFileNameHint, delta.extents[0]?.kind], ['0a1b2c3d', '1234abcd', 'web.vmdk', 'VMFSSPARSE']);
  assert.throws(() => parseDescriptor('createType="monolithicSparse"\nparentCID=1234abcd\nRW 8 SPARSE "d.vmdk"\n', 't'), /snapshot delta \(parentCID 1234abcd\) that names no parentFileNameHint/);
  assert.throws(() => parseDescriptor('createType="vmfsSparseNew"\nRW 8 SPARSE "d.vmdk"\n', 't'), /createType "vmfsSparseNew" is not a VMDK type/);
  assert.throws(() => parseDescriptor('createType="vmfs"\nRW 8 VMFSRDM "d-rdm.vmdk"\n', 't'), /extent type VMFSRDM is not supported/);
  assert.throws(() => parseDescriptor('CID=123456789\ncreateType="vmfs"\nRW 8 VMFS "d-flat.vmdk"\n', 't'), /CID "123456789" is not a 32-bit hex number/);
  assert.equal(parseDescriptor('CID=7d62773\ncreateType="vmfs"\nRW 8 VMFS "d-flat.vmdk"\n', 't').cid, '07d62773', 'qemu writes CIDs without leading zeros');
  // The descriptor inside a monolithicSparse file: its extent line is not needed.
  assert.equal(parseDescriptor('CID=00000001\nparentCID=ffffffff\ncreateType="monolithicSparse"\n', 't', { embedded: true }).cid, '00000001');
  const lines = fc.oneof(
    fc.string(),
    fc.constantFrom('createType="monolithicFlat"', 'createType="vmfsSparse"', 'createType="seSparse"', 'RW 2048 FLAT "x-flat.vmdk" 0', 'RW 99999999999999999999 FLAT "x" 0', 'RW 1 VMFSRDM "x"', 'RW 8 VMFSSPARSE "x-delta.vmdk"', 'RW 8 SESPARSE "x-sesparse.vmdk"', 'parentCID=ffffffff', 'parentCID=12345678', 'CID=fffffffe', 'CID=zz', 'parentFileNameHint="C:\\VMs\\x.vmdk"', 'RDONLY 4 ZERO'),
  );
  fc.assert(fc.property(fc.array(lines, { maxLength: 20 }), fc.boolean(), (parts, embedded) => onlyOurErrors(() => parseDescriptor(parts.join('\n'), 'fuzz', { embedded }))), runs);
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
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2100 }), (bytes) => onlyOurErrors(() => parseCowdHeader(Buffer.from(bytes), 4096, 'fuzz'))), runs);
});

function validSeSparseHeader(): Buffer {
  const header = Buffer.alloc(512);
  const fields: [number, bigint][] = [[0, 0xcafebaben], [1, 0x200000001n], [2, 2048n * 64n], [3, 8n], [4, 64n], [10, 1n], [11, 1n], [16, 2n], [17, 1n], [18, 3n], [19, 64n], [24, 67n]];
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
    fc.property(fc.array(fc.tuple(fc.nat(511), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), fc.nat(2 ** 31), (edits, fileSize) => {
      const header = validSeSparseHeader();
      for (const [at, value] of edits) header[at] = value;
      onlyOurErrors(() => parseSeSparseHeader(header, fileSize, 'fuzz'));
    }),
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
  assert.deepEqual(vmx.disks, [{ key: 'scsi0:0', fileName: 'vm1.vmdk' }, { key: 'scsi0:1', fileName: 'vm1_1.vmdk' }]);
  assert.throws(() => parseVmx('displayName = "x"\nscsi0:0.fileName = "/vmfs/volumes/other/x.vmdk"\n', 't'), /outside the VM folder/);
  const keySafe = fc.string().map((text) => `encryption.keySafe = "${text.replace(/["\\|]/g, '')}"`);
  const lines = fc.oneof(fc.string(), keySafe, fc.constantFrom('displayName = "a"', 'scsi0:0.fileName = "a.vmdk"', 'ide1:0.deviceType = "cdrom-image"', 'ide1:0.fileName = "x.iso"', 'x = "unterminated', 'encryption.keySafe = "vmware:key/list/(pair/(fqid/<VMWARE%2dNULL>/kms/k%zz,HMAC))"'));
  fc.assert(fc.property(fc.array(lines, { maxLength: 20 }), (parts) => onlyOurErrors(() => platformKeyOf(parseVmx(parts.join('\n'), 'fuzz')))), runs);
});

test('block map files: round trip, and any corruption is caught', () => {
  const records = [3, 7, 8].map((index) => ({ index, kind: BlockKind.data, codec: 1, dataFile: 1, offset: index * 1000 + 2 ** 33, storedLength: 900, rawLength: 4096, sha256: new Uint8Array(32).fill(index) }));
  const file = encodeMapFile(4096, records);
  const expected = { blockSize: 4096, blockCount: 16, sha256: sha256Hex(file), label: 't' };
  assert.deepEqual(decodeMapFile(file, expected).map((record) => record.offset), records.map((record) => record.offset));
  fc.assert(
    fc.property(fc.nat(file.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, rehash) => {
      const damaged = Buffer.from(file);
      damaged[at] = (damaged[at] as number) ^ xor;
      // Even with a matching checksum (a forged map), structure checks must hold.
      onlyOurErrors(() => decodeMapFile(damaged, { ...expected, sha256: rehash ? sha256Hex(damaged) : expected.sha256 }));
    }),
    runs,
  );
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyOurErrors(() => decodeMapFile(Buffer.from(bytes), { ...expected, sha256: sha256Hex(bytes) }))), runs);
});

test('wire frames and contract schemas: anything a peer sends is parsed or refused clearly', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (text) => onlyOurErrors(() => parseClientFrame(text))), runs);
  fc.assert(fc.property(fc.jsonValue(), (value) => onlyOurErrors(() => parseClientFrame(JSON.stringify(value)))), runs);
  assert.equal(ClientFrame.safeParse({ type: 'request', id: 1, channel: 'vms.list', payload: {} }).success, true);
  assert.throws(() => parseClientFrame('x'.repeat(2 * 1024 * 1024)), /larger than 1 MiB/);
});

test('SOAP responses from a host: any text gives a returnval or a clear error', () => {
  const ok = '<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><LoginResponse xmlns="urn:vim25"><returnval><key>k</key></returnval></LoginResponse></soapenv:Body></soapenv:Envelope>';
  assert.deepEqual(interpretResponse('h', 'Login', 200, ok), { key: 'k' });
  const fault = '<soapenv:Envelope xmlns:soapenv="x"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Login failure</faultstring><detail><InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"/></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>';
  assert.throws(() => interpretResponse('h', 'Login', 500, fault), { code: 'unauthorized', message: /Login failure \(InvalidLogin\)/ });
  const pieces = fc.oneof(fc.string(), fc.constantFrom('<soapenv:Envelope>', '</soapenv:Envelope>', '<soapenv:Body>', '</soapenv:Body>', '<soapenv:Fault>', '</soapenv:Fault>', '<detail>', '</detail>', '<LoginResponse>', '<returnval>', '</returnval>', '<faultstring>x</faultstring>', '<![CDATA[', '&amp;', '&bogus;'));
  fc.assert(fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => onlyOurErrors(() => interpretResponse('h', 'Login', 200, parts.join('')))), runs);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => onlyOurErrors(() => interpretResponse('h', 'Login', 200, Buffer.from(bytes).toString('latin1')))), runs);
});
