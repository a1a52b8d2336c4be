// Where a catalog lives: a PostgreSQL URL, or else a SQLite file's path. At electron/'s top, beside
// the home, so the home and the CLI can tell them apart without loading the catalog.

export function isPostgresLocation(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/** A catalog's location for a message: a URL without its password, in its user part or in a
 * parameter (libpq and pg take `?password=`, `?sslpassword=`). */
export function describeLocation(location: string): string {
  if (!isPostgresLocation(location)) return location;
  try {
    const url = new URL(location);
    url.password = '';
    for (const name of [...url.searchParams.keys()]) if (/password/i.test(name)) url.searchParams.set(name, '***');
    return url.toString();
  } catch {
    return 'postgresql://(an unreadable URL)';
  }
}
