// Where a catalog lives: a PostgreSQL URL, or else a SQLite file's path. At electron/'s top, beside
// the home, so the home and the CLI can tell them apart without loading the catalog.

export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** A catalog's location for a message: a URL without its password. */
export function describeLocation(location: string): string {
  if (!isPostgresLocation(location)) return location;
  try {
    const url = new URL(location);
    url.password = '';
    return url.toString();
  } catch {
    return 'postgresql://(an unreadable URL)';
  }
}
