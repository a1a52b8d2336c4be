// The members of one btrfs file system read as its logical address space: each piece of a range
// from the first copy on a present member that passes the caller's check (a tree block's checksum),
// else from the next copy (the mirror). What lay only on an absent member is a clear error.
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import type { ChunkMap, Piece } from './chunks.ts';

const MAX_MIRROR_NOTES = 8;

export class LogicalVolume {
  readonly members: ReadonlyMap<number, Disk>;
  chunks: ChunkMap;
  /** Blocks read from a mirror because their first copy failed its check, for the notes (the first few). */
  readonly mirrorReads: string[] = [];

  constructor(members: ReadonlyMap<number, Disk>, chunks: ChunkMap) {
    this.members = members;
    this.chunks = chunks;
  }

  /** A range that lies within one stripe unit (a tree block, which never crosses one), each copy
   * tried until `accept` agrees. */
  async readChecked(logical: number, length: number, accept: (bytes: Buffer) => string | null): Promise<Buffer> {
    const pieces = this.chunks.pieces(logical, length);
    if (pieces.length !== 1) throw new LifeboatError('corrupt-disk', `btrfs: tree block at ${logical} crosses a stripe or chunk boundary`);
    const problems: string[] = [];
    const piece = pieces[0] as Piece;
    for (const copy of piece.copies) {
      const disk = this.members.get(copy.devid);
      if (!disk) {
        problems.push(`its copy on device ${copy.devid} is missing`);
        continue;
      }
      const bytes = await disk.read(copy.physical, length);
      const why = accept(bytes);
      if (why === null) {
        const damaged = problems.filter((problem) => !problem.endsWith('is missing'));
        if (damaged.length > 0 && this.mirrorReads.length < MAX_MIRROR_NOTES)
          this.mirrorReads.push(`tree block at ${logical} was read from its mirror (${damaged.join('; ')})`);
        return bytes;
      }
      problems.push(`its copy on device ${copy.devid} ${why}`);
    }
    throw new LifeboatError('corrupt-disk', `btrfs: tree block at ${logical} cannot be read: ${problems.join('; ')}`);
  }

  /** Plain bytes (file data), each piece from its first present copy. */
  async read(logical: number, length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (const piece of this.chunks.pieces(logical, length)) {
      const copy = piece.copies.find((candidate) => this.members.has(candidate.devid));
      if (!copy) {
        const missing = [...new Set(piece.copies.map((candidate) => candidate.devid))].join(', ');
        throw new LifeboatError('corrupt-disk', `btrfs: bytes at ${piece.logical} lay on device ${missing}, which is missing`);
      }
      parts.push(await (this.members.get(copy.devid) as Disk).read(copy.physical, piece.length));
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }
}
