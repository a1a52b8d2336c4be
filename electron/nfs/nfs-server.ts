// The engine's NFS v3 server: MOUNT, NFS and the portmapper on one TCP port the operator picks
// (loopback in tests), and optionally on the portmapper's own port too, serving one export per
// Instant Recovery session. Malformed records are answered GARBAGE_ARGS
// or end the connection; one bad client never stops the server.
import { createServer, type Server, type Socket } from 'node:net';
import { LifeboatError } from '../errors.ts';
import { MOUNT_PROGRAM, MOUNT_VERSION, mountProcedure, type ExportEntry } from './mount-program.ts';
import { NFS_PROGRAM, NFS_VERSION, nfsProcedure } from './nfs-program.ts';
import { AcceptStat, deniedVersionReply, errorReply, frame, parseCall, RecordReader, RpcVersionError, successReply } from './rpc.ts';
import { XdrError } from './xdr.ts';
import { PORTMAP_PROGRAM, PORTMAP_VERSION, portmapProcedure } from './portmap-program.ts';
import { NfsStatus, NfsStatusError } from './nfs-status.ts';
import type { OverlayVolume } from './volume.ts';

const MAX_RECORD = 2 * 1024 * 1024;

export type NfsStats = { reads: number; writes: number; bytesRead: number; bytesWritten: number; firstReadAt: number | null };
/** `allowed`: the client addresses that may mount and use the export (null: any). */
type Export = { path: string; volume: OverlayVolume; generation: number; stats: NfsStats; allowed: ReadonlySet<string> | null };

/** Who an export is in its file handles. An Instant Recovery session gives its own, kept in the
 * catalog, so the handles its clients hold stay valid when a restarted engine serves it again. */
export type ExportIdentity = { exportId: number; generation: number };

/** Whether an export not served now is coming back (a session the engine will serve again once
 * it can): its handles are answered NFS3ERR_JUKEBOX (try again later), not NFS3ERR_STALE. */
export type PendingExport = (identity: ExportIdentity) => boolean;

/** IPv4 clients of a dual-stack socket show as ::ffff:a.b.c.d. */
function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
}

export class NfsServer {
  private readonly server: Server;
  private portmapper: Server | null = null;
  private readonly exports = new Map<number, Export>();
  private readonly sockets = new Set<Socket>();
  private nextExport = 1;
  private readonly pending: PendingExport;

  private constructor(server: Server, pending: PendingExport) {
    this.server = server;
    this.pending = pending;
  }

  /** `portmapperPort`: also answer there (the portmapper's 111, where ESXi asks for MOUNT). */
  static async listen(host: string, port: number, options: { portmapperPort?: number; pending?: PendingExport } = {}): Promise<NfsServer> {
    const nfs = new NfsServer(createServer(), options.pending ?? (() => false));
    await nfs.open(nfs.server, host, port, 'serve NFS');
    if (options.portmapperPort !== undefined) {
      const portmapper = createServer();
      nfs.portmapper = portmapper;
      try {
        await nfs.open(portmapper, host, options.portmapperPort, 'answer as the portmapper (is an rpcbind running there?)');
      } catch (error) {
        await nfs.close();
        throw error;
      }
    }
    return nfs;
  }

  private async open(server: Server, host: string, port: number, what: string): Promise<void> {
    server.on('connection', (socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new LifeboatError('unavailable', `cannot ${what} on ${host}:${port}: ${error.message}`)));
      server.listen(port, host, () => resolve());
    });
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Serves `volume` at `path` (such as /lifeboat/<session>) to the `allowed` client addresses
   * (null: any) under `identity` (none: the next free export id, generation 0); returns its export id. */
  addExport(path: string, volume: OverlayVolume, allowed: readonly string[] | null = null, identity?: ExportIdentity): number {
    if ([...this.exports.values()].some((entry) => entry.path === path)) throw new LifeboatError('conflict', `${path} is already exported`);
    if (identity && (!Number.isInteger(identity.exportId) || identity.exportId < 1 || identity.exportId > 0xffffffff))
      throw new LifeboatError('internal', `export id ${identity.exportId} is not a u32 above 0`);
    if (identity && this.exports.has(identity.exportId))
      throw new LifeboatError('conflict', `export id ${identity.exportId} is already served`);
    while (!identity && this.exports.has(this.nextExport)) this.nextExport++;
    const exportId = identity?.exportId ?? this.nextExport++;
    this.exports.set(exportId, {
      path,
      volume,
      generation: identity?.generation ?? 0,
      stats: { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, firstReadAt: null },
      allowed: allowed ? new Set(allowed) : null,
    });
    return exportId;
  }

  get exportCount(): number {
    return this.exports.size;
  }

  removeExport(exportId: number): void {
    this.exports.delete(exportId);
  }

  stats(exportId: number): NfsStats | null {
    return this.exports.get(exportId)?.stats ?? null;
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const records = new RecordReader(MAX_RECORD);
    const client = clientAddress(socket);
    // Calls on one connection are answered in order.
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let complete: Buffer[];
      try {
        complete = records.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const record of complete) {
        queue = queue.then(async () => {
          const reply = await this.answer(record, client);
          if (reply && !socket.destroyed) {
            // Corked: the parts leave in one writev.
            socket.cork();
            for (const part of frame(reply)) socket.write(part);
            socket.uncork();
          } else if (!reply) socket.destroy();
        });
      }
    });
  }

  /** The reply to one record, or null when it is not even a call to answer. */
  private async answer(record: Buffer, client: string): Promise<Uint8Array | Uint8Array[] | null> {
    let call;
    try {
      call = parseCall(record);
    } catch (error) {
      if (error instanceof RpcVersionError) return deniedVersionReply(error.xid);
      return null;
    }
    const { xid, program, version, procedure, args } = call;
    const versionOf =
      program === NFS_PROGRAM
        ? NFS_VERSION
        : program === MOUNT_PROGRAM
          ? MOUNT_VERSION
          : program === PORTMAP_PROGRAM
            ? PORTMAP_VERSION
            : null;
    if (versionOf === null) return errorReply(xid, AcceptStat.progUnavail);
    if (version !== versionOf) return errorReply(xid, AcceptStat.progMismatch, { low: versionOf, high: versionOf });
    try {
      const body =
        program === PORTMAP_PROGRAM
          ? portmapProcedure(procedure, args, this.port)
          : program === MOUNT_PROGRAM
            ? mountProcedure(procedure, args, {
                list: () =>
                  [...this.exports].map(([exportId, entry]) => ({
                    path: entry.path,
                    exportId,
                    generation: entry.generation,
                    rootId: entry.volume.rootId,
                    allowed: allows(entry, client),
                  })),
                find: (path) => this.findMount(path, client),
              })
            : await nfsProcedure(
                procedure,
                args,
                (exportId, generation) => this.volumeFor(exportId, generation, client),
                (exportId, kind, bytes) => this.count(exportId, kind, bytes),
              );
      if (body === null) return errorReply(xid, AcceptStat.procUnavail);
      return successReply(xid, body);
    } catch (error) {
      if (error instanceof XdrError) return errorReply(xid, AcceptStat.garbageArgs);
      return errorReply(xid, AcceptStat.systemErr);
    }
  }

  /** An export's root, or a folder inside it, by path. */
  private findMount(path: string, client: string): ExportEntry | null {
    for (const [exportId, entry] of this.exports) {
      if (path !== entry.path && !path.startsWith(`${entry.path}/`)) continue;
      let folderId = entry.volume.rootId;
      try {
        for (const name of path.slice(entry.path.length).split('/').filter(Boolean)) {
          folderId = entry.volume.lookup(folderId, name);
          if (entry.volume.attr(folderId).type !== 'dir') return null;
        }
      } catch {
        return null;
      }
      return { path, exportId, generation: entry.generation, rootId: folderId, allowed: allows(entry, client) };
    }
    return null;
  }

  private volumeFor(exportId: number, generation: number, client: string): OverlayVolume | null {
    const entry = this.exports.get(exportId);
    if (!entry && this.pending({ exportId, generation }))
      throw new NfsStatusError(NfsStatus.jukebox, `export ${exportId} is not served yet; try again`);
    if (!entry || entry.generation !== generation) return null;
    if (!allows(entry, client)) throw new NfsStatusError(NfsStatus.acces, `${client} may not use ${entry.path}`);
    return entry.volume;
  }

  private count(exportId: number, kind: 'read' | 'write', bytes: number): void {
    const stats = this.exports.get(exportId)?.stats;
    if (!stats) return;
    if (kind === 'read') {
      stats.reads++;
      stats.bytesRead += bytes;
      stats.firstReadAt ??= Date.now();
    } else {
      stats.writes++;
      stats.bytesWritten += bytes;
    }
  }

  /** Stops listening, drops every connection (a client reconnects and sends its calls again),
   * and only then closes the exports' volumes: no call is answered NFS3ERR_STALE on the way. */
  async close(): Promise<void> {
    const stopped = [this.server, this.portmapper].map((server) =>
      server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve(),
    );
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(stopped);
    const volumes = [...this.exports.values()].map((entry) => entry.volume);
    this.exports.clear();
    const failed = (await Promise.allSettled(volumes.map((volume) => volume.close()))).find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

function allows(entry: Export, client: string): boolean {
  return entry.allowed === null || entry.allowed.has(client);
}
