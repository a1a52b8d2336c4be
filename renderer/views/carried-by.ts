// Which data movers carried each disk of a job, from its result's `movers`: disk key → the movers
// in the order they had it (a mover lost mid-disk is followed by the one that finished it).
export type CarriedDisk = { disk: string; movers: string[] };

/** The result is the engine's free-form record: anything not of that shape is left out, not shown wrong. */
export function carriedBy(result: Record<string, unknown> | null): CarriedDisk[] {
  const movers = result?.movers;
  if (typeof movers !== 'object' || movers === null || Array.isArray(movers)) return [];
  return Object.entries(movers as Record<string, unknown>).flatMap(([disk, names]) =>
    Array.isArray(names) && names.length > 0 && names.every((name) => typeof name === 'string')
      ? [{ disk, movers: names as string[] }]
      : [],
  );
}
