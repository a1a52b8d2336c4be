// A minimal NFS v3 client over one TCP connection, in-process: what a hypervisor does when it
// powers on a VM from an NFS datastore — MOUNT MNT of the export (RFC 1813 appendix I), NFS
// LOOKUP down to the disk file, then READs. Used by the benchmarks to play many guests in one
// process (a client process per guest would measure process start-up on the bench machine, not
// the server). Calls carry AUTH_UNIX as a hypervisor's do; the MOUNT and NFS programs are asked
// on the same port (our server answers both there).
import { connect, type Socket } from 'node:net';
import { MOUNT_PROGRAM, MOUNT_VERSION } from '../../electron/nfs/mount-program.ts';
import { NFS_PROGRAM, NFS_VERSION } from '../../electron/nfs/nfs-program.ts';
import { MSG_CALL, MSG_REPLY, RecordReader } from '../../electron/nfs/rpc.ts';
import { XdrReader, XdrWriter } from '../../electron/nfs/xdr.ts';

const MNT = 1;
const LOOKUP = 3;
const READ = 6;
const FATTR3_BYTES = 84;
const MAX_HANDLE = 64;
const MAX_REPLY = 2 * 1024 * 1024 + 4096;

export type NfsClient = {
  /** MNT `exportPath`, then LOOKUP each of `names`: the last one's file handle. */
  open(exportPath: string, names: string[]): Promise<Uint8Array>;
  /** One READ; the bytes the server gave (fewer than `count` at the end of the file). */
  read(handle: Uint8Array, offset: number, count: number): Promise<Uint8Array>;
  close(): void;
};

/** AUTH_UNIX credential (RFC 5531 appendix A): stamp, machine name, uid 0, gid 0, no groups. */
function authUnix(): Buffer {
  return new XdrWriter().u32(0).string('lifeboat-bench').u32(0).u32(0).u32(0).bytes();
}

/** Connects to `host`:`port`; every call fails after `timeoutMs` without its reply. */
export async function connectNfs(host: string, port: number, timeoutMs = 120_000): Promise<NfsClient> {
  const socket: Socket = connect({ host, port, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const credential = authUnix();
  const waiting = new Map<number, { resolve(reply: XdrReader): void; reject(error: Error): void; timer: NodeJS.Timeout }>();
  let nextXid = (Math.random() * 0x7fffffff) >>> 0;
  const failAll = (error: Error): void => {
    for (const wait of waiting.values()) {
      clearTimeout(wait.timer);
      wait.reject(error);
    }
    waiting.clear();
  };
  const records = new RecordReader(MAX_REPLY);
  socket.on('data', (chunk: Buffer) => {
    let complete: Buffer[];
    try {
      complete = records.push(chunk);
    } catch (error) {
      failAll(error as Error);
      socket.destroy();
      return;
    }
    for (const record of complete) {
      const reader = new XdrReader(record);
      const xid = reader.u32('the xid');
      const wait = waiting.get(xid);
      if (!wait) continue;
      waiting.delete(xid);
      clearTimeout(wait.timer);
      try {
        if (reader.u32('the message type') !== MSG_REPLY) throw new Error('not a reply');
        if (reader.u32('the reply state') !== 0) throw new Error('call denied');
        reader.u32('the verifier flavour');
        reader.opaque(400, 'the verifier');
        const accepted = reader.u32('the accept state');
        if (accepted !== 0) throw new Error(`call not accepted: ${accepted}`);
        wait.resolve(reader);
      } catch (error) {
        wait.reject(error as Error);
      }
    }
  });
  socket.once('error', (error) => failAll(error));
  socket.once('close', () => failAll(new Error('the server closed the connection')));

  const call = async (program: number, version: number, procedure: number, args: Uint8Array): Promise<XdrReader> => {
    const xid = nextXid;
    nextXid = (nextXid + 1) >>> 0;
    const head = new XdrWriter()
      .u32(xid)
      .u32(MSG_CALL)
      .u32(2)
      .u32(program)
      .u32(version)
      .u32(procedure)
      .u32(1)
      .opaque(credential)
      .u32(0)
      .u32(0)
      .bytes();
    const mark = Buffer.alloc(4);
    mark.writeUInt32BE((0x80000000 | (head.length + args.length)) >>> 0, 0);
    return new Promise<XdrReader>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(xid);
        reject(new Error(`no reply to procedure ${procedure} of program ${program} in ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(xid, { resolve, reject, timer });
      socket.write(Buffer.concat([mark, head, args]));
    });
  };

  return {
    async open(exportPath, names) {
      const mounted = await call(MOUNT_PROGRAM, MOUNT_VERSION, MNT, new XdrWriter().string(exportPath).bytes());
      const status = mounted.u32('the MNT status');
      if (status !== 0) throw new Error(`MNT ${exportPath}: status ${status}`);
      let handle = mounted.opaque(MAX_HANDLE, 'the root handle');
      for (const name of names) {
        const found = await call(NFS_PROGRAM, NFS_VERSION, LOOKUP, new XdrWriter().opaque(handle).string(name).bytes());
        const lookupStatus = found.u32('the LOOKUP status');
        if (lookupStatus !== 0) throw new Error(`LOOKUP ${name}: status ${lookupStatus}`);
        handle = found.opaque(MAX_HANDLE, 'a file handle');
      }
      return handle;
    },
    async read(handle, offset, count) {
      const reply = await call(NFS_PROGRAM, NFS_VERSION, READ, new XdrWriter().opaque(handle).u64(offset).u32(count).bytes());
      const status = reply.u32('the READ status');
      if (reply.bool('attributes follow')) reply.fixed(FATTR3_BYTES, 'the attributes');
      if (status !== 0) throw new Error(`READ at ${offset}: status ${status}`);
      reply.u32('the count');
      reply.bool('end of file');
      return reply.opaque(count, 'the data');
    },
    close: () => socket.destroy(),
  };
}
