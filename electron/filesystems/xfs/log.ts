// Whether the XFS log ends cleanly. The internal log is logBlocks file-system blocks at fsblock
// logStart, written as 512-byte basic blocks. Each basic block starts with the log's cycle
// number (a record header starts with magic 0xFEEDBABE and keeps its cycle at +4). The head is
// where the cycle drops: the first block of the newest cycle's end. The record just before the
// head is a clean unmount when it holds one log operation whose op header (12 bytes after the
// record header: tid u32 | len u32 | clientid u8 | flags u8) has the unmount flag 0x20 and it
// ends exactly at the head (as the kernel's xlog_check_unmount_rec decides).
// Record header: magic u32 | cycle u32 | version u32 | len u32 | lsn u64 | tail_lsn u64 |
//   crc u32 | prev_block u32 | num_logops u32 | cycle_data[64] | ... | size u32 at 320.
// The log is never replayed here.
import type { Disk } from '../../disks/disk.ts';
import type { VolumeNote } from '../file-system.ts';
import { diskBlock, type XfsSuperblock } from './superblock.ts';

const BB = 512;
const HEADER_MAGIC = 0xfeedbabe;
const UNMOUNT_TRANS = 0x20;
/** How far before the head the last record's header is looked for (an unmount record is a few blocks). */
const MAX_BACK = 1024;
const HEADER_CYCLE_SIZE = 32 * 1024;

const stale = (why: string): VolumeNote => ({
  stale: true,
  text: `may be stale: the XFS log was not replayed (${why}); the view may miss the newest changes`,
});

/** Nothing when the log ends with an unmount record (a clean volume says nothing, as the other readers); else a stale note. */
export async function logNote(sb: XfsSuperblock, disk: Disk): Promise<VolumeNote | null> {
  if (sb.logStart === 0) return stale('it is on another device');
  let start: number;
  try {
    start = diskBlock(sb, sb.logStart, sb.logBlocks, 'the log') * sb.blockSize;
  } catch {
    return stale('its place in the superblock is damaged');
  }
  const blocks = (sb.logBlocks * sb.blockSize) / BB;
  if (blocks < 2) return stale('it is empty');
  const readBB = (index: number): Promise<Buffer> => disk.read(start + (((index % blocks) + blocks) % blocks) * BB, BB);
  const cycleOf = async (index: number): Promise<number> => {
    const bytes = await readBB(index);
    return bytes.readUInt32BE(0) === HEADER_MAGIC ? bytes.readUInt32BE(4) : bytes.readUInt32BE(0);
  };
  const firstCycle = await cycleOf(0);
  const lastCycle = await cycleOf(blocks - 1);
  let head = 0;
  if (firstCycle !== lastCycle) {
    // Blocks [0, head) carry the newer cycle, [head, end) the older one: find the first of the older.
    let low = 0;
    let high = blocks - 1;
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if ((await cycleOf(middle)) === firstCycle) low = middle;
      else high = middle;
    }
    head = high;
  }
  for (let back = 1; back <= Math.min(MAX_BACK, blocks); back++) {
    const at = head - back;
    const header = await readBB(at);
    if (header.readUInt32BE(0) !== HEADER_MAGIC) continue;
    const version = header.readUInt32BE(8);
    const size = header.readUInt32BE(320);
    const headerBlocks = version & 2 && size > HEADER_CYCLE_SIZE ? Math.ceil(size / HEADER_CYCLE_SIZE) : 1;
    const after = at + headerBlocks + Math.ceil(header.readUInt32BE(12) / BB);
    if (after !== head || header.readUInt32BE(40) !== 1)
      return stale('it does not end with an unmount record: the file system was not cleanly unmounted');
    const op = await readBB(at + headerBlocks);
    if (((op[9] as number) & UNMOUNT_TRANS) === 0)
      return stale('it does not end with an unmount record: the file system was not cleanly unmounted');
    return null;
  }
  return stale('no record was found before its head');
}
