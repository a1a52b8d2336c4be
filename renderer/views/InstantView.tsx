// Instant Recovery: run a VM straight from a restore point on a vSphere host, then watch its
// sessions (cache, read/write rates, age) and migrate each to production or stop it.
import { Card, CardBody, CardTitle, Stack, Title } from '@patternfly/react-core';
import { Sessions } from './instant/Sessions.tsx';
import { StartForm } from './instant/StartForm.tsx';

export function InstantView() {
  return (
    <Stack hasGutter>
      <StartForm />
      <Card component="section" aria-labelledby="instant-sessions-heading">
        <CardTitle>
          <Title headingLevel="h2" id="instant-sessions-heading">
            Sessions
          </Title>
        </CardTitle>
        <CardBody>
          <Sessions />
        </CardBody>
      </Card>
    </Stack>
  );
}
