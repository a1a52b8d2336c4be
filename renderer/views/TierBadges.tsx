// Where a restore point's data lives, fastest first: the snapshot tier (the primary repository)
// and the vault tier (copy repositories, tape); and whether the point is encrypted.
import type { PointCopy } from '../../shared/domain.ts';

function label(copy: PointCopy): string {
  if (copy.kind === 'tape') return `vault · tape ${copy.name}`;
  return `${copy.tier} · ${copy.name} (${copy.region}/${copy.zone})`;
}

export function TierBadges({ copies, keyId }: { copies: PointCopy[]; keyId?: string | null }) {
  return (
    <span className="tiers">
      {copies.map((copy) => (
        <span key={`${copy.kind}-${copy.name}`} className={`badge tier-${copy.tier}${copy.state === 'missing' ? ' tier-missing' : ''}`}>
          {label(copy)}
          {copy.state === 'missing' && ' — missing'}
        </span>
      ))}
      {keyId && (
        <span className="badge encrypted" title={`chain key ${keyId}`}>
          encrypted
        </span>
      )}
    </span>
  );
}
