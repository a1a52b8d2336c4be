// Where a restore reads the point (the fastest whole copy, or a region: a cross-region restore or
// a drill) and, for an encrypted point, its password or recovery key file.
import type { ChangeEvent } from 'react';

export type SourceChoice = { fromRegion: string; password: string; recoveryKey: string };

export function sourceReady(source: SourceChoice): boolean {
  return source.password !== '' || source.recoveryKey !== '';
}

export function sourceRequest(source: SourceChoice): { fromRegion?: string; password?: string; recoveryKey?: string } {
  return {
    ...(source.fromRegion ? { fromRegion: source.fromRegion } : {}),
    ...(source.password ? { password: source.password } : {}),
    ...(source.recoveryKey ? { recoveryKey: source.recoveryKey } : {}),
  };
}

export function SourceFields({
  source,
  onChange,
  regions,
  encrypted,
  remembered,
}: {
  source: SourceChoice;
  onChange(source: SourceChoice): void;
  regions: string[];
  encrypted: boolean;
  remembered: boolean;
}) {
  const readKeyFile = (event: ChangeEvent<HTMLInputElement>): void => {
    const file = event.target.files?.[0];
    if (file) void file.text().then((recoveryKey) => onChange({ ...source, recoveryKey }));
  };
  return (
    <fieldset>
      <legend>Source</legend>
      <div className="field">
        <label htmlFor="from-region">Read from</label>
        <select id="from-region" value={source.fromRegion} onChange={(event) => onChange({ ...source, fromRegion: event.target.value })}>
          <option value="">The fastest whole copy</option>
          {regions.map((region) => (
            <option key={region} value={region}>
              Region {region} only (a copy there; cross-region restore or drill)
            </option>
          ))}
        </select>
      </div>
      {encrypted && (
        <>
          <p>
            This point is encrypted.
            {remembered
              ? ' Its key is remembered: no password is needed.'
              : ' Give its password or its recovery key file; a wrong one is refused before anything is written.'}
          </p>
          {!remembered && (
            <>
              <label>
                Encryption password
                <input
                  type="password"
                  name="password"
                  autoComplete="off"
                  value={source.password}
                  onChange={(event) => onChange({ ...source, password: event.target.value })}
                />
              </label>
              <label>
                Or its recovery key file
                <input type="file" name="recoveryKey" onChange={readKeyFile} />
              </label>
            </>
          )}
        </>
      )}
    </fieldset>
  );
}
