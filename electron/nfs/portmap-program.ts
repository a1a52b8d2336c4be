// The portmapper (program 100000 version 2, RFC 1833): where a client such as ESXi's NFS client
// asks which port MOUNT and NFS answer on. This server answers for itself only: both programs,
// over TCP, on its own port.
import type { XdrReader } from './xdr.ts';
import { XdrWriter } from './xdr.ts';
import { MOUNT_PROGRAM, MOUNT_VERSION } from './mount-program.ts';
import { NFS_PROGRAM, NFS_VERSION } from './nfs-program.ts';

export const PORTMAP_PROGRAM = 100000;
export const PORTMAP_VERSION = 2;
/** The portmapper's well-known port, where ESXi asks. */
export const PORTMAP_PORT = 111;
const IPPROTO_TCP = 6;

const served = [
  { program: NFS_PROGRAM, version: NFS_VERSION },
  { program: MOUNT_PROGRAM, version: MOUNT_VERSION },
];

export function portmapProcedure(procedure: number, args: XdrReader, port: number): Buffer | null {
  const out = new XdrWriter();
  switch (procedure) {
    case 0:
      return out.bytes();
    case 1:
    case 2:
      // SET, UNSET: no other program registers here.
      for (const what of ['program', 'version', 'protocol', 'port']) args.u32(what);
      return out.bool(false).bytes();
    case 3: {
      const program = args.u32('the program');
      const version = args.u32('the version');
      const protocol = args.u32('the protocol');
      args.u32('the port');
      const known = protocol === IPPROTO_TCP && served.some((entry) => entry.program === program && entry.version === version);
      return out.u32(known ? port : 0).bytes();
    }
    case 4: {
      for (const entry of served) out.bool(true).u32(entry.program).u32(entry.version).u32(IPPROTO_TCP).u32(port);
      return out.bool(false).bytes();
    }
    default:
      return null;
  }
}
