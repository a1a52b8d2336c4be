// Hints that let a restore stripe's disk I/O run while its thread decodes: the next run's stored
// bytes are asked for ahead (posix_fadvise WILLNEED) and each written run's pages are sent to the
// disk at once (sync_file_range WRITE) instead of all at the final fsync. Through the seek-data
// addon (Node has neither call); without it, or where the file system refuses, a restore writes the
// same bytes without overlap, and one log line says why. Hints never decide what is durable: the
// checkpoints' and the final fdatasync still do.
import { seekNative, type SeekNative } from '../disks/seek-data.ts';

export type IoHints = {
  /** The kernel may read [offset, offset + length) of `fd` into the page cache now. */
  willNeed(fd: number, offset: number, length: number): void;
  /** The kernel may start writing [offset, offset + length) of `fd` to the disk now. */
  startWriteback(fd: number, offset: number, length: number): void;
};

let warned = false;

function warnOnce(reason: string): void {
  if (warned) return;
  warned = true;
  console.warn(`lifeboat: restores do not overlap disk reads and writes with decoding: ${reason}`);
}

/** The hints of `native` (the addon, loaded once per thread; tests pass a stand-in or a reason). A
 * hint that fails once is not given again: the restore goes on without it. */
export function ioHints(native: SeekNative | string = seekNative()): IoHints {
  if (typeof native === 'string') warnOnce(native);
  const addon = typeof native === 'string' ? null : native;
  if (addon && (!addon.willNeed || !addon.startWriteback)) warnOnce('the seek-data addon predates these hints: run npm install');
  const guarded = (call: SeekNative['willNeed'], name: string): IoHints['willNeed'] => {
    let usable = call !== undefined;
    return (fd, offset, length) => {
      if (!usable || length <= 0) return;
      try {
        call?.call(addon, fd, offset, length);
      } catch (error) {
        usable = false;
        warnOnce(`${name} failed (${error instanceof Error ? error.message : String(error)})`);
      }
    };
  };
  return { willNeed: guarded(addon?.willNeed, 'posix_fadvise'), startWriteback: guarded(addon?.startWriteback, 'sync_file_range') };
}
