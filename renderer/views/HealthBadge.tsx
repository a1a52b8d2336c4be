// A point whose metadata is damaged in the primary repository says so, with the reason (a copy
// elsewhere may still restore it); a legacy point (no recorded hash at backup) says that.
import { Label } from '@patternfly/react-core';
import type { PointHealth } from '../../shared/domain.ts';

export function HealthBadge({ health }: { health: PointHealth }) {
  if (health.state === 'ok') return null;
  if (health.state === 'legacy')
    return (
      <Label color="grey" isCompact title={health.reason ?? ''}>
        legacy metadata
      </Label>
    );
  return (
    <Label color="red" isCompact>
      damaged: {health.reason}
    </Label>
  );
}
