// Human units and plain tables, for the CLI and the console alike.
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** How long something has run (or ran, when it ended): "45 s", "12 min", "3 h". */
/** A time left, in the largest units that matter: "45 s", "3 min 10 s", "2 h 5 min". */
export function formatSeconds(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

export function formatAge(createdAt: string, endedAt: string | null, now = Date.now()): string {
  const seconds = Math.max(0, Math.round(((endedAt ? Date.parse(endedAt) : now) - Date.parse(createdAt)) / 1000));
  return seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

/** What a search may be missing, a line per indexed point with gaps: "2 entries of VM web point 3
 * could not be read: /disk0/part1/etc (…); …", and the volumes that may be stale. */
export function describeIndexGaps(point: {
  vmName: string;
  sequence: number;
  unreadable: number;
  gaps: { path: string; kind: 'unreadable' | 'stale'; reason: string }[];
}): string[] {
  const lines: string[] = [];
  const unreadable = point.gaps.filter((gap) => gap.kind === 'unreadable');
  if (point.unreadable > 0) {
    const more = point.unreadable > unreadable.length ? `; and ${point.unreadable - unreadable.length} more` : '';
    lines.push(
      `${point.unreadable} ${point.unreadable === 1 ? 'entry' : 'entries'} of VM ${point.vmName} point ${point.sequence} could not be read: ${unreadable.map((gap) => `${printableName(gap.path)} (${gap.reason})`).join('; ')}${more}`,
    );
  }
  for (const gap of point.gaps.filter((candidate) => candidate.kind === 'stale'))
    lines.push(`VM ${point.vmName} point ${point.sequence} ${printableName(gap.path)}: ${gap.reason}`);
  return lines;
}

/** A name as one line of a listing: control characters (C0, DEL, C1) and bidirectional overrides
 * shown as \xHH or \uHHHH, and '\' as '\\', so a file name cannot forge or reorder lines. JSON
 * output keeps the raw name. */
export function printableName(name: string): string {
  return name.replace(/[\\\x00-\x1f\x7f\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, (character) => {
    if (character === '\\') return '\\\\';
    const code = character.codePointAt(0) as number;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
