// A job's state as one PatternFly label: one colour per state, the state in words.
import { Label, type LabelProps } from '@patternfly/react-core';
import type { JobState } from '../../../shared/domain.ts';

const looks: Record<JobState, { color: LabelProps['color']; text: string }> = {
  queued: { color: 'grey', text: 'Queued' },
  running: { color: 'blue', text: 'Running' },
  'waiting-for-operator': { color: 'orange', text: 'Needs you' },
  succeeded: { color: 'green', text: 'Succeeded' },
  failed: { color: 'red', text: 'Failed' },
  cancelled: { color: 'purple', text: 'Cancelled' },
  interrupted: { color: 'yellow', text: 'Interrupted' },
};

export function StateLabel({ state }: { state: JobState }) {
  const look = looks[state];
  return (
    <Label color={look.color} isCompact data-state={state}>
      {look.text}
    </Label>
  );
}
