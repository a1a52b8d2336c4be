// A VMware snapshot chain read as the VM sees it: the leaf delta the .vmx names, over its parent,
// over that one's parent, down to the base. A grain the child never wrote shows the parent's
// bytes; a grain it wrote (even as zeros) hides them. Parents are found by parentFileNameHint
// and must be inside the VM folder; each link's CID must be the one its child recorded.
import { basename, dirname, isAbsolute } from 'node:path';
import { LifeboatError } from '../errors.ts';
import { checkRange, type Disk, type Extent } from './disk.ts';
import { isMissingFile, type FileSource } from './file-source.ts';
import { localFiles } from './local-files.ts';
import { pushExtent, type LayerDisk } from './layer.ts';
import { openDiskImage, type DiskFormat, type DiskImage } from './open-disk.ts';
import { NO_PARENT } from './vmdk-descriptor.ts';

/** VMware allows 32 snapshots per VM; twice that is a damaged or hostile chain, not a real one. */
export const MAX_CHAIN_LINKS = 64;

/** One file of the chain as it was read, leaf first. `fileName` is relative to the VM folder. */
export type ChainLink = {
  fileName: string;
  format: DiskFormat;
  createType: string | null;
  cid: string | null;
  parentCid: string | null;
  capacity: number;
};

/** `files`: every file read for the disk (descriptors and extents of every link). */
export type OpenedChain = { disk: Disk; format: DiskFormat; chain: ChainLink[]; files: string[] };

class ChainDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly layers: LayerDisk[];

  constructor(layers: LayerDisk[], description: string) {
    this.layers = layers;
    this.capacity = (layers[0] as LayerDisk).capacity;
    this.description = description;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this, offset, length);
    const out = Buffer.allocUnsafe(length);
    await this.readInto(out, offset, length);
    return out;
  }

  async readInto(target: Buffer, offset: number, length: number): Promise<void> {
    checkRange(this, offset, length);
    target.fill(0, 0, length);
    await this.fill(0, offset, length, target, 0);
  }

  /** Fills out[at..] from layer `level`, asking the next layer for what this one left to it. */
  private async fill(level: number, offset: number, length: number, out: Buffer, at: number): Promise<void> {
    const layer = this.layers[level];
    if (!layer) return; // below the base: zeros
    // A parent smaller than its child (qemu allows it) reads as zeros past its end.
    const inside = Math.min(length, layer.capacity - offset);
    if (inside <= 0) return;
    let position = offset;
    for (const run of await layer.runs(offset, inside)) {
      const into = at + (position - offset);
      if (run.state === 'data') (await layer.read(position, run.length)).copy(out, into);
      else if (run.state === 'parent') await this.fill(level + 1, position, run.length, out, into);
      position += run.length;
    }
  }

  /** A range is 'zero' only where every layer down to the base wrote zeros or nothing; a child's
   * written zeros hide the parent's data. */
  async extents(offset: number, length: number): Promise<Extent[]> {
    checkRange(this, offset, length);
    const extents: Extent[] = [];
    await this.walk(0, offset, length, extents);
    return extents;
  }

  /** Appends the extents of [offset, offset + length) as layer `level` and those below say. */
  private async walk(level: number, offset: number, length: number, extents: Extent[]): Promise<void> {
    const layer = this.layers[level];
    const inside = layer ? Math.max(0, Math.min(length, layer.capacity - offset)) : 0;
    let position = offset;
    if (layer && inside > 0) {
      for (const run of await layer.runs(offset, inside)) {
        if (run.state === 'parent') await this.walk(level + 1, position, run.length, extents);
        else pushExtent(extents, run.state, position, run.length);
        position += run.length;
      }
    }
    // Below the base, or past the end of a parent smaller than its child: zeros.
    pushExtent(extents, 'zero', position, offset + length - position);
  }

  async close(): Promise<void> {
    await Promise.all(this.layers.map((layer) => layer.close()));
  }
}

/** Opens a disk as the VM sees it: a snapshot delta is read through its parents. */
export async function openDisk(path: string): Promise<Disk> {
  return (await openDiskChain(path)).disk;
}

/** `source`: where the files are (a local folder unless said otherwise); `leafPath` is a name in it. */
export async function openDiskChain(leafPath: string, source: FileSource = localFiles): Promise<OpenedChain> {
  const leaf = source.absolute(leafPath);
  const folder = source.folderOf(leaf);
  const images: DiskImage[] = [];
  const chain: ChainLink[] = [];
  const seen = new Set<string>();
  try {
    let path = leaf;
    for (;;) {
      const name = source.relativeTo(folder, path);
      const identity = await source.identity(path);
      if (identity !== null && seen.has(identity)) {
        throw new LifeboatError(
          'invalid-source',
          `${leaf}: the snapshot chain loops (${[...chain.map((link) => link.fileName), name].join(' → ')})`,
        );
      }
      if (identity !== null) seen.add(identity);
      const image = await openDiskImage(path, source);
      images.push(image);
      const child = chain.at(-1);
      const link: ChainLink = {
        fileName: name,
        format: image.format,
        createType: image.descriptor?.createType ?? null,
        cid: image.descriptor?.cid ?? null,
        parentCid: image.descriptor?.parentCid ?? null,
        capacity: image.disk.capacity,
      };
      chain.push(link);
      if (child) checkParentLink(leaf, child, link);
      const descriptor = image.descriptor;
      if (!descriptor || descriptor.parentCid === NO_PARENT) break;
      if (chain.length === MAX_CHAIN_LINKS)
        throw new LifeboatError(
          'invalid-source',
          `${leaf}: the snapshot chain is longer than ${MAX_CHAIN_LINKS} links; consolidate the VM's snapshots`,
        );
      path = await parentPath(source, folder, path, descriptor.parentFileNameHint as string);
    }
  } catch (error) {
    await Promise.all(images.map((image) => image.disk.close().catch(() => undefined)));
    throw error;
  }
  const first = images[0] as DiskImage;
  const files = images.flatMap((image) => image.files);
  if (images.length === 1) return { disk: first.disk, format: first.format, chain, files };
  const description = `snapshot chain ${chain.map((link) => link.fileName).join(' → ')}`;
  return {
    disk: new ChainDisk(
      images.map((image) => image.disk),
      description,
    ),
    format: first.format,
    chain,
    files,
  };
}

function checkParentLink(leaf: string, child: ChainLink, parent: ChainLink): void {
  if (parent.cid === null) {
    throw new LifeboatError(
      'invalid-source',
      `${leaf}: ${child.fileName} names ${parent.fileName} as its parent, but that file is not a VMDK with a content id (it is ${parent.format})`,
    );
  }
  if (parent.cid !== child.parentCid) {
    throw new LifeboatError(
      'invalid-source',
      `${leaf}: CID mismatch: ${child.fileName} expects its parent ${parent.fileName} to have CID ${child.parentCid}, it has ${parent.cid} (the parent changed after the snapshot was taken)`,
    );
  }
}

/**
 * Where a delta's parent is. A relative hint is resolved against the child's folder, as VMware
 * does. An absolute hint (ESXi's /vmfs/volumes/... or Windows' C:\...) names where the VM lived
 * when the snapshot was taken, not where this folder is now: the parent is looked up by its
 * base name beside the child, and the CID check proves it is the right file. Either way the
 * parent must be inside the VM folder: Lifeboat reads nothing the operator did not point it at.
 */
async function parentPath(source: FileSource, folder: string, childPath: string, hint: string): Promise<string> {
  const child = source.relativeTo(folder, childPath);
  const windows = /^[A-Za-z]:[\\/]/.test(hint) || hint.includes('\\');
  const absolute = windows || isAbsolute(hint);
  const candidate = source.beside(childPath, absolute ? (windows ? (hint.split(/[\\/]/).at(-1) ?? '') : basename(hint)) : hint);
  let real: string;
  try {
    real = await source.realName(candidate);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = isMissingFile(error) || code === 'ENOTDIR';
    if (!missing && (error instanceof LifeboatError || typeof code !== 'string')) throw error;
    const where = absolute ? `looked for ${basename(candidate)} in ${dirname(candidate)}` : `looked at ${candidate}`;
    const why = missing ? 'is missing' : `cannot be opened (${code})`;
    throw new LifeboatError('invalid-source', `${child}: its parent disk "${hint}" ${why} (${where}); the snapshot chain is broken`);
  }
  if (!(await source.isInside(folder, real))) {
    throw new LifeboatError(
      'invalid-source',
      `${child}: its parent disk "${hint}" is ${real}, outside the VM folder ${folder}; Lifeboat reads only the VM folder (consolidate the snapshots, or copy the parent in)`,
    );
  }
  if (!(await source.isFile(real))) throw new LifeboatError('invalid-source', `${child}: its parent disk "${hint}" is not a file`);
  return candidate;
}
