// Instant Recovery: run a VM straight from a restore point on a vSphere host, then watch its
// sessions (cache, read/write rates, age) and migrate each to production or stop it.
import { Stack } from '@patternfly/react-core';
import { Sessions } from './instant/Sessions.tsx';
import { StartForm } from './instant/StartForm.tsx';
import { SectionCard } from './common/SectionCard.tsx';

export function InstantView() {
  return (
    <Stack hasGutter>
      <StartForm />
      <SectionCard id="instant-sessions-heading" title="Sessions">
        <Sessions />
      </SectionCard>
    </Stack>
  );
}
