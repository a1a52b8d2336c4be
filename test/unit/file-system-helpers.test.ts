// The helpers the ext4-style readers share (XFS, btrfs): a POSIX mode's entry type, and a file's
// data and holes turned into its bytes a bounded chunk at a time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { regionBytes, typeOfMode, zeros, type FileRegion } from '../../electron/filesystems/file-system.ts';

test('typeOfMode reads only the S_IFMT bits of a mode', () => {
  assert.equal(typeOfMode(0o100644), 'file');
  assert.equal(typeOfMode(0o104755), 'file');
  assert.equal(typeOfMode(0o040755), 'dir');
  assert.equal(typeOfMode(0o120777), 'symlink');
  for (const other of [0o010644, 0o020644, 0o060644, 0o140755, 0, 0o777]) assert.equal(typeOfMode(other), 'other');
});

test('zeros: a hole of any size in chunks of at most 1 MiB, fresh buffers, nothing for an empty hole', () => {
  const chunks = [...zeros(2.5 * 1024 * 1024)];
  assert.deepEqual(
    chunks.map((chunk) => chunk.length),
    [1024 * 1024, 1024 * 1024, 512 * 1024],
  );
  assert.ok(chunks.every((chunk) => chunk.every((byte) => byte === 0)));
  assert.notEqual(chunks[0]?.buffer, chunks[1]?.buffer);
  assert.deepEqual([...zeros(0)], []);
  // Lazy: a hole far larger than memory costs only the chunks taken.
  const huge = zeros(2 ** 50);
  assert.equal(huge.next().value?.length, 1024 * 1024);
});

test('regionBytes: data as it is, holes as zeros, in order', async () => {
  async function* regions(): AsyncGenerator<FileRegion> {
    yield { hole: 3 };
    yield Buffer.from('ab');
    yield { hole: 0 };
    yield Buffer.from('c');
    yield { hole: 2 };
  }
  const chunks: Uint8Array[] = [];
  for await (const chunk of regionBytes(regions())) chunks.push(chunk);
  assert.deepEqual([...Buffer.concat(chunks)], [0, 0, 0, 97, 98, 99, 0, 0]);
});
