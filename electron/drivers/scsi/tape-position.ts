// Where a tape stands, as the engine counts (file = filemarks passed, block = blocks since the
// last one) and as SSC counts (logical objects: every block and every filemark is one). Where
// each file starts in logical objects is learned while reading, writing and locating, so a later
// locate can be one LOCATE command instead of a rewind and spacing.

export type TapePosition = { file: number; block: number; object: number | null };

export class PositionBook {
  private readonly fileStarts = new Map<number, number>([[0, 0]]);

  origin(): TapePosition {
    return { file: 0, block: 0, object: 0 };
  }

  /** Logical object of block `block` of file `file`, when the file's start is known. */
  objectOf(file: number, block: number): number | null {
    const start = this.fileStarts.get(file);
    return start === undefined ? null : start + block;
  }

  at(file: number, block: number): TapePosition {
    return { file, block, object: this.objectOf(file, block) };
  }

  /** The position past one more object; passing a filemark teaches where the next file starts. */
  after(position: TapePosition, kind: 'block' | 'filemark'): TapePosition {
    const object = position.object === null ? null : position.object + 1;
    if (kind === 'block') return { file: position.file, block: position.block + 1, object };
    if (object !== null) this.fileStarts.set(position.file + 1, object);
    return { file: position.file + 1, block: 0, object: object ?? this.objectOf(position.file + 1, 0) };
  }

  /** The drive told its logical object (READ POSITION): remember where this file starts. */
  learn(position: TapePosition, object: number): TapePosition {
    if (object - position.block >= 0) this.fileStarts.set(position.file, object - position.block);
    return { ...position, object };
  }
}

export function samePlace(a: TapePosition, b: TapePosition): boolean {
  return a.file === b.file && a.block === b.block;
}
