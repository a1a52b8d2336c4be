// The SHA-256 that protects a point's metadata. It covers the whole manifest (every field, those
// added later included) in a canonical form: keys sorted at every level, no white space. So the
// same manifest written again (a copy, a new serializer) keeps its hash, and any change of a
// value, an added or a dropped field changes it.
import { createHash } from 'node:crypto';

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, field]) => field !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${fields.map(([key, field]) => `${JSON.stringify(key)}:${canonical(field)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The hex SHA-256 of a manifest (as parsed JSON, or the object a backup is about to write). */
export function manifestSha256(manifest: unknown): string {
  return createHash('sha256').update(canonical(manifest)).digest('hex');
}

/** The side file beside manifest.json that holds its hash: one line of 64 hex digits. */
export const MANIFEST_HASH_FILE = 'manifest.sha256';

export function parseManifestHashFile(text: string): string | null {
  const match = /^([0-9a-f]{64})\n?$/.exec(text);
  return match ? (match[1] as string) : null;
}
