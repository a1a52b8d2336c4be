// Tests that call dispatch directly do it as the home's OS user, as the CLI's own engine does.
import { Peer, osCaller } from '../../electron/auth/peer.ts';

export function asOwner(): Peer {
  return new Peer(osCaller());
}
