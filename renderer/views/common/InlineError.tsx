// An error said where it happened: a PatternFly inline danger alert, or nothing when there is none.
import { Alert } from '@patternfly/react-core';

export function InlineError({ error }: { error: string | null }) {
  if (!error) return null;
  return <Alert variant="danger" isInline isPlain title={error} role="alert" />;
}
