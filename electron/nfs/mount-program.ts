// The MOUNT v3 program (100005, RFC 1813 appendix I): a client asks for an export's path and
// gets the root file handle (the export's stable id and generation in it: see encodeHandle).
import type { XdrReader } from './xdr.ts';
import { XdrWriter } from './xdr.ts';
import { encodeHandle } from './nfs-program.ts';
import { AUTH_NONE, AUTH_UNIX } from './rpc.ts';

export const MOUNT_PROGRAM = 100005;
export const MOUNT_VERSION = 3;
const MNT3ERR_NOENT = 2;
const MNT3ERR_ACCES = 13;
const MAX_PATH = 1024;

/** `allowed`: whether the calling client may mount the export. `find` also resolves a folder
 * inside an export (a client may mount /export/sub), to the folder's file id. */
export type ExportEntry = { path: string; exportId: number; generation: number; rootId: number; allowed: boolean };
export type ExportTable = { list(): ExportEntry[]; find(path: string): ExportEntry | null };

export function mountProcedure(procedure: number, args: XdrReader, exports: ExportTable): Buffer | null {
  const out = new XdrWriter();
  switch (procedure) {
    case 0:
    case 3:
    case 4:
      // NULL, UMNT, UMNTALL: nothing to say (the export stays while its session lives).
      if (procedure === 3) args.string(MAX_PATH, 'a path');
      return out.bytes();
    case 1: {
      const path = args.string(MAX_PATH, 'a path').replace(/\/+$/, '') || '/';
      const found = exports.find(path);
      if (!found) return out.u32(MNT3ERR_NOENT).bytes();
      if (!found.allowed) return out.u32(MNT3ERR_ACCES).bytes();
      return out
        .u32(0)
        .opaque(encodeHandle(found.exportId, found.rootId, found.generation))
        .u32(2)
        .u32(AUTH_NONE)
        .u32(AUTH_UNIX)
        .bytes();
    }
    case 2:
      // DUMP: who has mounted what; not tracked.
      return out.bool(false).bytes();
    case 5: {
      for (const entry of exports.list().filter((listed) => listed.allowed)) out.bool(true).string(entry.path).bool(false);
      return out.bool(false).bytes();
    }
    default:
      return null;
  }
}
