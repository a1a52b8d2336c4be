// NFS v3 status codes (RFC 1813 §2.6) that this server answers with.
export const NfsStatus = {
  ok: 0,
  perm: 1,
  noent: 2,
  io: 5,
  acces: 13,
  exist: 17,
  notdir: 20,
  isdir: 21,
  inval: 22,
  fbig: 27,
  nospc: 28,
  rofs: 30,
  nametoolong: 63,
  notempty: 66,
  stale: 70,
  badhandle: 10001,
  notsupp: 10004,
  /** The request cannot be done now; the client tries again later (RFC 1813: NFS3ERR_JUKEBOX). */
  jukebox: 10008,
  serverfault: 10006,
} as const;

export class NfsStatusError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}
