// The commands that only read the home. With no engine serving it, they open it read-only
// (engine/read-only-home.ts) instead of starting an engine for one listing, so each must call
// only the channels a read-only home answers (a test runs each of them on one).
export function readsOnly(command: string, rest: string[]): boolean {
  switch (command) {
    case 'jobs':
      return rest[0] === undefined || rest[0] === 'show';
    case 'settings':
      return rest[0] !== 'set';
    case 'audit':
      return rest[0] !== 'verify';
    case 'whoami':
      return true;
    default:
      return false;
  }
}
