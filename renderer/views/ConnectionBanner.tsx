// Says at once when the browser console has lost the engine: since when, that it reconnects by
// itself (and what is shown is as of then), or, when there is nothing to reconnect to, how to get
// a new console URL. An inline alert rather than PatternFly's Banner: a Banner cuts its text to
// one line, and these sentences are the instructions.
import { Alert } from '@patternfly/react-core';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';

export function ConnectionBanner() {
  const connection = useConsole((state) => state.connection);
  if (connection.state === 'connected') return null;
  if (connection.state === 'lost')
    return (
      <Alert variant="danger" isInline role="alert" component="p" title="Not connected to the engine">
        {connection.reason}. Open the console with the URL <code>lifeboat serve</code> printed when it started, or start{' '}
        <code>lifeboat serve</code> again for a new one.
      </Alert>
    );
  return (
    <Alert variant="warning" isInline role="alert" component="p" title="The engine is unreachable">
      Unreachable since {formatTime(new Date(connection.since).toISOString())} ({connection.reason}). Reconnecting (attempt{' '}
      {connection.attempt}); jobs and figures shown are as they were then.
    </Alert>
  );
}
