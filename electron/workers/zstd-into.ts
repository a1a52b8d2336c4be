// zstd blocks of a restore decoded by the system's libzstd through the seek-data addon: about 2.5x
// as fast as node:zlib's zstd here, and into a buffer the stripe reuses instead of a new one per
// block. The caller still checks the length and the SHA-256 of what comes out. Without the addon
// function or the library, node:zlib decodes (the same bytes, slower) and one log line says why.
import { seekNative, type SeekNative } from '../disks/seek-data.ts';

/** Decodes a zstd frame into `into`; the bytes decoded. Throws when the frame is damaged or larger. */
export type ZstdInto = (frame: Uint8Array, into: Uint8Array) => number;

let warned = false;

function unusable(reason: string): null {
  if (!warned) console.warn(`lifeboat: restores decode zstd blocks with node:zlib (slower): ${reason}`);
  warned = true;
  return null;
}

/** The addon's decoder, or null (logged) when this machine cannot use it; `native` is the seam
 * through which tests make it unavailable. */
export function zstdInto(native: SeekNative | string = seekNative()): ZstdInto | null {
  if (typeof native === 'string') return unusable(native);
  const { zstdVersion, zstdDecompress } = native;
  if (!zstdVersion || !zstdDecompress) return unusable('the seek-data addon predates its zstd decoder: run npm install');
  if (zstdVersion.call(native) === 0) return unusable('libzstd.so.1 (Debian: libzstd1) cannot be opened');
  return (frame, into) => zstdDecompress.call(native, frame, into);
}
