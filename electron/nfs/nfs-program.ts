// The NFS v3 program (100003, RFC 1813) over one volume: the procedures a hypervisor needs to
// use the export as a datastore. File handles: see encodeHandle.
import { XdrReader, XdrWriter } from './xdr.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';
import type { NodeAttr, OverlayVolume, StableHow } from './volume.ts';

export const NFS_PROGRAM = 100003;
export const NFS_VERSION = 3;
const HANDLE_MAGIC = 0x4c424e46; // 'LBNF'
const HANDLE_BYTES = 20;
const MAX_NAME = 255;
const MAX_IO = 1024 * 1024;
/** Changes when the engine starts (RFC 1813: when the server may have lost unstable writes). A
 * killed engine loses none — every write is in the kernel, chunk map included, before its reply —
 * but a machine that lost power may have, so clients resend what they had not committed. Even
 * then no base bytes are lost: a new chunk's data is flushed before its map record is written
 * (chunk-cache.ts), and a torn last map record is dropped on resume. */
const WRITE_VERIFIER = Buffer.alloc(8);
WRITE_VERIFIER.writeBigUInt64BE(BigInt(Date.now()), 0);

/** A file handle, 20 bytes, all big-endian:
 *   0  u32  magic 'LBNF'
 *   4  u32  export id   (an Instant Recovery session's, kept in the catalog: stable across restarts)
 *   8  u32  generation  (from the session's id: a handle of an ended session never names another
 *                        that a rebuilt catalog gave the same export id; 0 for an export made by hand)
 *  12  u64  file id     (stable within the export: the volume's own ids)
 * Nothing in it depends on the server's memory, so a handle a client held before an engine
 * restart still names the same file after it. */
export function encodeHandle(exportId: number, fileId: number, generation = 0): Buffer {
  const handle = Buffer.alloc(HANDLE_BYTES);
  handle.writeUInt32BE(HANDLE_MAGIC, 0);
  handle.writeUInt32BE(exportId, 4);
  handle.writeUInt32BE(generation, 8);
  handle.writeBigUInt64BE(BigInt(fileId), 12);
  return handle;
}

export function decodeHandle(bytes: Uint8Array): { exportId: number; generation: number; fileId: number } {
  const handle = Buffer.from(bytes);
  if (handle.length !== HANDLE_BYTES || handle.readUInt32BE(0) !== HANDLE_MAGIC)
    throw new NfsStatusError(NfsStatus.badhandle, 'not a handle of this server');
  return { exportId: handle.readUInt32BE(4), generation: handle.readUInt32BE(8), fileId: Number(handle.readBigUInt64BE(12)) };
}

function time(writer: XdrWriter, ms: number): void {
  writer.u32(Math.floor(ms / 1000)).u32((ms % 1000) * 1_000_000);
}

function fattr(writer: XdrWriter, attr: NodeAttr, exportId: number): void {
  writer
    .u32(attr.type === 'dir' ? 2 : 1)
    .u32(attr.mode)
    .u32(attr.type === 'dir' ? 2 : 1)
    .u32(0)
    .u32(0);
  writer
    .u64(attr.size)
    .u64(Math.ceil(attr.size / 4096) * 4096)
    .u32(0)
    .u32(0)
    .u64(exportId)
    .u64(attr.fileid);
  time(writer, attr.mtimeMs);
  time(writer, attr.mtimeMs);
  time(writer, attr.mtimeMs);
}

function postOpAttr(writer: XdrWriter, volume: OverlayVolume, id: number, exportId: number): void {
  let attr: NodeAttr | null = null;
  try {
    attr = volume.attr(id);
  } catch {
    attr = null;
  }
  writer.bool(attr !== null);
  if (attr) fattr(writer, attr, exportId);
}

/** wcc_data with no pre-operation attributes, and the attributes after. */
function wcc(writer: XdrWriter, volume: OverlayVolume, id: number, exportId: number): void {
  writer.bool(false);
  postOpAttr(writer, volume, id, exportId);
}

/** sattr3: only the size matters to a datastore; modes, owners and times are accepted and kept as they are. */
function readSattr(reader: XdrReader): { size: number | null } {
  if (reader.bool('set_mode')) reader.u32('mode');
  if (reader.bool('set_uid')) reader.u32('uid');
  if (reader.bool('set_gid')) reader.u32('gid');
  const size = reader.bool('set_size') ? reader.u64('size') : null;
  for (const what of ['atime', 'mtime']) {
    const how = reader.u32(`set_${what}`);
    if (how === 2) {
      reader.u32(what);
      reader.u32(what);
    } else if (how > 2) throw new NfsStatusError(NfsStatus.inval, `set_${what} ${how}`);
  }
  return { size };
}

type Target = { volume: OverlayVolume; exportId: number; id: number };
type Failure = (w: XdrWriter, status: number) => void;

/** The failure body of the procedures that owe the object's attributes after the status. */
function withAttributes(target: Target): Failure {
  return (w, status) => {
    w.u32(status);
    postOpAttr(w, target.volume, target.id, target.exportId);
  };
}

/** The failure body of the procedures that owe wcc_data, for each folder or file they touch. */
function withWcc(...targets: Target[]): Failure {
  return (w, status) => {
    w.u32(status);
    for (const target of targets) wcc(w, target.volume, target.id, target.exportId);
  };
}

/** Per procedure, the absent parts (post_op_attr: one; wcc_data: two) of its failure body when
 * no attributes can be given (RFC 1813: GETATTR none; LOOKUP, ACCESS, READLINK, READ, READDIR(PLUS),
 * FSSTAT, FSINFO, PATHCONF one; SETATTR, WRITE, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR,
 * COMMIT two; LINK three; RENAME four). */
const EMPTY_FAILURE_PARTS: Record<number, number> = {
  1: 0,
  2: 2,
  3: 1,
  4: 1,
  5: 1,
  6: 1,
  7: 2,
  8: 2,
  9: 2,
  10: 2,
  11: 2,
  12: 2,
  13: 2,
  14: 4,
  15: 3,
  16: 1,
  17: 1,
  18: 1,
  19: 1,
  20: 1,
  21: 2,
};

/** The volume of a live export whose generation matches, or null (the handle is stale). */
export type VolumeLookup = (exportId: number, generation: number) => OverlayVolume | null;

export type IoCounter = (exportId: number, kind: 'read' | 'write', bytes: number) => void;

/** Runs one NFS procedure; returns the result body (status first, in parts where it carries
 * file data), or null for an unknown one. */
export async function nfsProcedure(
  procedure: number,
  args: XdrReader,
  volumes: VolumeLookup,
  onIo: IoCounter = () => undefined,
): Promise<Buffer | Uint8Array[] | null> {
  const out = new XdrWriter();
  const target = (): Target & { generation: number } => {
    const { exportId, generation, fileId } = decodeHandle(args.opaque(64, 'a file handle'));
    const volume = volumes(exportId, generation);
    if (!volume) throw new NfsStatusError(NfsStatus.stale, 'the export is gone');
    return { volume, exportId, generation, id: fileId };
  };
  // On an error each procedure still owes its failure body; `fail` says how to write it. Until
  // the file is known (a stale, foreign or refused handle) that body carries no attributes.
  const emptyParts = EMPTY_FAILURE_PARTS[procedure] ?? 0;
  let fail: Failure = (w, status) => {
    w.u32(status);
    for (let part = 0; part < emptyParts; part++) w.bool(false);
  };
  try {
    switch (procedure) {
      case 0:
        return Buffer.alloc(0);
      case 1: {
        const { volume, exportId, id } = target();
        const attr = volume.attr(id);
        out.u32(NfsStatus.ok);
        fattr(out, attr, exportId);
        return out.bytes();
      }
      case 2: {
        const { volume, exportId, id } = target();
        fail = withWcc({ volume, exportId, id });
        const { size } = readSattr(args);
        if (args.bool('guard')) {
          args.u32('guard time');
          args.u32('guard time');
        }
        if (size !== null) {
          if (volume.attr(id).type === 'dir') throw new NfsStatusError(NfsStatus.isdir, 'a folder has no size');
          await volume.setSize(id, size);
        }
        out.u32(NfsStatus.ok);
        wcc(out, volume, id, exportId);
        return out.bytes();
      }
      case 3: {
        const { volume, exportId, generation, id } = target();
        const name = args.string(MAX_NAME, 'a name');
        fail = withAttributes({ volume, exportId, id });
        const found = volume.lookup(id, name);
        out.u32(NfsStatus.ok).opaque(encodeHandle(exportId, found, generation));
        postOpAttr(out, volume, found, exportId);
        postOpAttr(out, volume, id, exportId);
        return out.bytes();
      }
      case 4: {
        const { volume, exportId, id } = target();
        const access = args.u32('access');
        fail = withAttributes({ volume, exportId, id });
        volume.attr(id);
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        out.u32(access & 0x3f);
        return out.bytes();
      }
      case 6: {
        const { volume, exportId, id } = target();
        const offset = args.u64('offset');
        const count = Math.min(args.u32('count'), MAX_IO);
        fail = withAttributes({ volume, exportId, id });
        if (volume.attr(id).type === 'dir') throw new NfsStatusError(NfsStatus.isdir, 'a folder cannot be read');
        const { data, eof } = await volume.read(id, offset, count);
        onIo(exportId, 'read', data.length);
        // The data goes out as its own part (opaque: length, bytes, padding), never copied here.
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        out.u32(data.length).bool(eof).u32(data.length);
        return [out.bytes(), data, Buffer.alloc((4 - (data.length % 4)) % 4)];
      }
      case 7: {
        const { volume, exportId, id } = target();
        const offset = args.u64('offset');
        args.u32('count');
        const stable = args.u32('stable');
        const data = args.opaque(MAX_IO, 'write data');
        fail = withWcc({ volume, exportId, id });
        if (stable > 2) throw new NfsStatusError(NfsStatus.inval, `stable_how ${stable}`);
        if (volume.attr(id).type === 'dir') throw new NfsStatusError(NfsStatus.isdir, 'a folder cannot be written');
        // DATA_SYNC and FILE_SYNC are flushed to the disk before the reply; UNSTABLE waits for COMMIT.
        const committed = await volume.write(id, offset, data, stable as StableHow);
        onIo(exportId, 'write', data.length);
        out.u32(NfsStatus.ok);
        wcc(out, volume, id, exportId);
        out.u32(data.length).u32(committed).fixed(WRITE_VERIFIER);
        return out.bytes();
      }
      case 8: {
        const { volume, exportId, generation, id } = target();
        const name = args.string(MAX_NAME, 'a name');
        const mode = args.u32('create mode');
        fail = withWcc({ volume, exportId, id });
        let size: number | null = null;
        if (mode === 2) args.fixed(8, 'the create verifier');
        else if (mode <= 1) size = readSattr(args).size;
        else throw new NfsStatusError(NfsStatus.inval, `create mode ${mode}`);
        const created = await volume.create(id, name, mode !== 0);
        if (size !== null) await volume.setSize(created, size); // only the size the client sent
        out
          .u32(NfsStatus.ok)
          .bool(true)
          .opaque(encodeHandle(exportId, created, generation));
        postOpAttr(out, volume, created, exportId);
        wcc(out, volume, id, exportId);
        return out.bytes();
      }
      case 12: {
        const { volume, exportId, id } = target();
        const name = args.string(MAX_NAME, 'a name');
        fail = withWcc({ volume, exportId, id });
        await volume.remove(id, name);
        out.u32(NfsStatus.ok);
        wcc(out, volume, id, exportId);
        return out.bytes();
      }
      case 14: {
        const from = target();
        const fromName = args.string(MAX_NAME, 'a name');
        const to = target();
        const toName = args.string(MAX_NAME, 'a name');
        fail = withWcc(from, to);
        if (from.volume !== to.volume) throw new NfsStatusError(NfsStatus.inval, 'a rename across exports');
        await from.volume.rename(from.id, fromName, to.id, toName);
        out.u32(NfsStatus.ok);
        wcc(out, from.volume, from.id, from.exportId);
        wcc(out, to.volume, to.id, to.exportId);
        return out.bytes();
      }
      case 16:
      case 17: {
        const plus = procedure === 17;
        const { volume, exportId, generation, id } = target();
        const cookie = args.u64('cookie');
        args.fixed(8, 'the cookie verifier');
        const limit = Math.min(args.u32('count'), MAX_IO);
        if (plus) args.u32('maxcount');
        fail = withAttributes({ volume, exportId, id });
        const entries = [{ name: '.', id }, { name: '..', id: volume.lookup(id, '..') }, ...volume.list(id)];
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        out.fixed(Buffer.alloc(8));
        let used = 0;
        let index = cookie;
        for (; index < entries.length; index++) {
          const entry = entries[index] as { name: string; id: number };
          const cost = 24 + entry.name.length + (plus ? 120 : 0);
          if (used + cost > limit && index > cookie) break;
          used += cost;
          out
            .bool(true)
            .u64(entry.id)
            .string(entry.name)
            .u64(index + 1);
          if (plus) {
            postOpAttr(out, volume, entry.id, exportId);
            out.bool(true).opaque(encodeHandle(exportId, entry.id, generation));
          }
        }
        out.bool(false).bool(index >= entries.length);
        return out.bytes();
      }
      case 18: {
        const { volume, exportId, id } = target();
        fail = withAttributes({ volume, exportId, id });
        const { total, free } = await volume.usage();
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        out.u64(total).u64(free).u64(free).u64(1_000_000).u64(1_000_000).u64(1_000_000).u32(0);
        return out.bytes();
      }
      case 19: {
        const { volume, exportId, id } = target();
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        // rtmax, rtpref, rtmult, wtmax, wtpref, wtmult, dtpref, maxfilesize, time_delta, properties
        out
          .u32(MAX_IO)
          .u32(MAX_IO)
          .u32(4096)
          .u32(MAX_IO)
          .u32(MAX_IO)
          .u32(4096)
          .u32(64 * 1024)
          .u64(2 ** 52)
          .u32(0)
          .u32(1_000_000)
          .u32(0x0008 | 0x0010);
        return out.bytes();
      }
      case 20: {
        const { volume, exportId, id } = target();
        out.u32(NfsStatus.ok);
        postOpAttr(out, volume, id, exportId);
        out.u32(1).u32(MAX_NAME).bool(true).bool(true).bool(false).bool(true);
        return out.bytes();
      }
      case 21: {
        const { volume, exportId, id } = target();
        args.u64('offset');
        args.u32('count');
        fail = withWcc({ volume, exportId, id });
        await volume.commit(id);
        out.u32(NfsStatus.ok);
        wcc(out, volume, id, exportId);
        out.fixed(WRITE_VERIFIER);
        return out.bytes();
      }
      case 5:
      case 9:
      case 10:
      case 11:
      case 13:
      case 15: {
        // READLINK, MKDIR, SYMLINK, MKNOD, RMDIR, LINK: a VM folder needs none of them.
        target();
        throw new NfsStatusError(NfsStatus.notsupp, 'not supported on a recovery datastore');
      }
      default:
        return null;
    }
  } catch (error) {
    if (!(error instanceof NfsStatusError)) throw error;
    // The failure body is written afresh, whatever the procedure had written so far.
    const failed = new XdrWriter();
    fail(failed, error.status);
    return failed.bytes();
  }
}
