// The machine-wide lock on NFS's 2049 and the portmapper's 111; in scripts/peers/ so the bench may take it too.
export { withNfsPorts } from '../../scripts/peers/port-lock.ts';
