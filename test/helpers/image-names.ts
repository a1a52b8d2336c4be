// Hostile guest names: the tools refuse names holding '/', '..' or control characters, so tests
// make an entry with a placeholder name and then rewrite its bytes in the image.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';

/** Renames a directory entry in a file system image by rewriting its name bytes: the tools
 * refuse such names, a damaged or hostile guest does not. The placeholder must occur once. */
export async function patchName(image: string, placeholder: string, name: string): Promise<void> {
  const bytes = await readFile(image);
  const from = Buffer.from(placeholder, 'latin1');
  const to = Buffer.from(name, 'latin1');
  assert.equal(from.length, to.length);
  // Only where it is an entry's name: an 11-byte FAT short name, or an ext4 name behind its
  // name_len and file_type bytes (a short placeholder can also occur in a guest file's bytes).
  const isEntryName = (at: number): boolean => from.length === 11 || bytes[at - 2] === from.length;
  const places: number[] = [];
  for (let at = bytes.indexOf(from); at >= 0 && places.length < 2; at = bytes.indexOf(from, at + 1)) if (isEntryName(at)) places.push(at);
  assert.equal(places.length, 1, `${placeholder} names one entry in ${image}`);
  const at = places[0] as number;
  to.copy(bytes, at);
  await writeFile(image, bytes);
}
