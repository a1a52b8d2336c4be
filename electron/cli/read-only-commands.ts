// The commands that only read the home. With no engine serving it, they open it read-only
// (engine/read-only-home.ts) instead of starting an engine for one listing, so each must call
// only the channels a read-only home answers (a test runs each of them on one). `vms` is not one:
// where a VM's copies are (online or not) asks copy repositories and the tape library.
import type { ListingNeeds } from '../engine/read-only-home.ts';

/** What the command reads, when it only reads; null when it needs the engine. `fromIndex`:
 * `files ls --from-index`, which reads the catalog's file index, not the point. */
export function listingNeeds(command: string, rest: string[], fromIndex = false): ListingNeeds | null {
  switch (command) {
    case 'files':
      return rest[0] === 'ls' && fromIndex ? 'repository' : null;
    case 'jobs':
      return rest[0] === undefined || rest[0] === 'show' ? 'catalog' : null;
    case 'settings':
      return rest[0] !== 'set' ? 'catalog' : null;
    case 'audit':
      return rest[0] !== 'verify' ? 'catalog' : null;
    case 'whoami':
      return 'catalog';
    case 'points':
      return 'repository';
    default:
      return null;
  }
}
