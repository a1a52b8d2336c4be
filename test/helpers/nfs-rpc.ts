// A few NFS v3 calls made by hand over TCP, for what libnfs's tools cannot do: write into an
// existing file at an offset, or stop in the middle of a record.
import { connect } from 'node:net';
import { MOUNT_PROGRAM, MOUNT_VERSION } from '../../electron/nfs/mount-program.ts';
import { NFS_PROGRAM, NFS_VERSION } from '../../electron/nfs/nfs-program.ts';
import { RecordReader } from '../../electron/nfs/rpc.ts';
import { XdrReader, XdrWriter } from '../../electron/nfs/xdr.ts';

let nextXid = 1;

/** An RPC call message (AUTH_NONE) with its arguments. */
export function callMessage(program: number, version: number, procedure: number, args: Uint8Array): Buffer {
  return Buffer.concat([
    new XdrWriter().u32(nextXid++).u32(0).u32(2).u32(program).u32(version).u32(procedure).u32(0).u32(0).u32(0).u32(0).bytes(),
    args,
  ]);
}

export function recordOf(message: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE((0x80000000 | message.length) >>> 0, 0);
  return Buffer.concat([header, message]);
}

/** Sends one call and returns the reply's result body (after an accepted, successful reply). */
async function call(port: number, program: number, version: number, procedure: number, args: Uint8Array): Promise<XdrReader> {
  const socket = connect(port, '127.0.0.1');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const records = new RecordReader(4 * 1024 * 1024);
      socket.on('data', (chunk: Buffer) => {
        const [first] = records.push(chunk);
        if (first) resolve(first);
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the server closed the connection')));
      socket.write(recordOf(callMessage(program, version, procedure, args)));
    });
    const reader = new XdrReader(reply);
    reader.u32(); // xid
    if (reader.u32() !== 1 || reader.u32() !== 0) throw new Error('not an accepted reply');
    reader.u32(); // verifier flavour
    reader.opaque(400);
    const accepted = reader.u32();
    if (accepted !== 0) throw new Error(`call not accepted: ${accepted}`);
    return reader;
  } finally {
    socket.destroy();
  }
}

/** MNT then LOOKUP down `names`: the file handle of the last one. */
export async function handleOf(port: number, exportPath: string, names: string[]): Promise<Uint8Array> {
  const mounted = await call(port, MOUNT_PROGRAM, MOUNT_VERSION, 1, new XdrWriter().string(exportPath).bytes());
  const status = mounted.u32();
  if (status !== 0) throw new Error(`MNT ${exportPath}: ${status}`);
  let handle = mounted.opaque(64);
  for (const name of names) {
    const found = await call(port, NFS_PROGRAM, NFS_VERSION, 3, new XdrWriter().opaque(handle).string(name).bytes());
    const lookupStatus = found.u32();
    if (lookupStatus !== 0) throw new Error(`LOOKUP ${name}: ${lookupStatus}`);
    handle = found.opaque(64);
  }
  return handle;
}

/** `stable`: 0 UNSTABLE, 1 DATA_SYNC, 2 FILE_SYNC. */
export function writeArgs(handle: Uint8Array, offset: number, data: Uint8Array, stable: 0 | 1 | 2 = 2): Uint8Array {
  return new XdrWriter().opaque(handle).u64(offset).u32(data.length).u32(stable).opaque(data).bytes();
}

/** WRITE (FILE_SYNC asked unless `stable` says otherwise); returns the NFS status. */
export async function nfsWrite(port: number, handle: Uint8Array, offset: number, data: Uint8Array, stable: 0 | 1 | 2 = 2): Promise<number> {
  return (await call(port, NFS_PROGRAM, NFS_VERSION, 7, writeArgs(handle, offset, data, stable))).u32();
}

/** COMMIT of the whole file; returns the NFS status. */
export async function nfsCommit(port: number, handle: Uint8Array): Promise<number> {
  return (await call(port, NFS_PROGRAM, NFS_VERSION, 21, new XdrWriter().opaque(handle).u64(0).u32(0).bytes())).u32();
}

/** READ; returns the status and, when it succeeded, the bytes and the end-of-file flag. */
export async function nfsRead(
  port: number,
  handle: Uint8Array,
  offset: number,
  count: number,
): Promise<{ status: number; data: Uint8Array; eof: boolean }> {
  const reply = await call(port, NFS_PROGRAM, NFS_VERSION, 6, new XdrWriter().opaque(handle).u64(offset).u32(count).bytes());
  const status = reply.u32();
  if (reply.bool()) reply.fixed(84); // post-op attributes (fattr3)
  if (status !== 0) return { status, data: new Uint8Array(0), eof: false };
  reply.u32(); // count
  const eof = reply.bool();
  return { status, data: reply.opaque(count), eof };
}
