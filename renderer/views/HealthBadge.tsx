// A point whose metadata is damaged in the primary repository says so, with the reason (a copy
// elsewhere may still restore it); a legacy point (no recorded hash at backup) says that.
import type { PointHealth } from '../../shared/domain.ts';

export function HealthBadge({ health }: { health: PointHealth }) {
  if (health.state === 'ok') return null;
  if (health.state === 'legacy')
    return (
      <span className="badge" title={health.reason ?? ''}>
        legacy metadata
      </span>
    );
  return <span className="badge tier-missing">damaged: {health.reason}</span>;
}
