// Where a restore point's data lives, fastest first: the snapshot tier (the primary repository)
// and the vault tier (copy repositories, tape); and whether the point is encrypted.
import { Label, LabelGroup, type LabelProps } from '@patternfly/react-core';
import type { PointCopy } from '../../shared/domain.ts';

function label(copy: PointCopy): string {
  if (copy.kind === 'tape') return `vault · tape ${copy.name}`;
  return `${copy.tier} · ${copy.name} (${copy.region}/${copy.zone})`;
}

function colour(copy: PointCopy): LabelProps['color'] {
  if (copy.state === 'missing') return 'red';
  return copy.tier === 'snapshot' ? 'green' : 'blue';
}

export function TierBadges({ copies, keyId }: { copies: PointCopy[]; keyId?: string | null }) {
  return (
    <LabelGroup numLabels={copies.length + 1} isCompact>
      {copies.map((copy) => (
        <Label key={`${copy.kind}-${copy.name}`} color={colour(copy)} isCompact>
          {label(copy)}
          {copy.state === 'missing' && ' — missing'}
        </Label>
      ))}
      {keyId && (
        <Label color="purple" isCompact title={`chain key ${keyId}`}>
          encrypted
        </Label>
      )}
    </LabelGroup>
  );
}
