// What a mover tells its operator (and the tests): one event per line, JSON with --json.
import type { ErrorCode } from '../errors.ts';

export type MoverEvent =
  | { event: 'joined'; mover: string }
  | { event: 'connected'; mover: string; engine: string }
  | { event: 'disconnected'; reason: string; retryInMs: number }
  | { event: 'task-started'; task: string; disk: string; datastore: string; path: string; resumeFrom: number }
  | { event: 'task-done'; task: string; bytesWritten: number }
  | { event: 'task-failed'; task: string; code: ErrorCode; message: string }
  | { event: 'refused'; code: ErrorCode; message: string };

export type EmitEvent = (event: MoverEvent) => void;

export function describeEvent(event: MoverEvent): string {
  switch (event.event) {
    case 'joined':
      return `joined as ${event.mover}`;
    case 'connected':
      return `connected to ${event.engine} as ${event.mover}`;
    case 'disconnected':
      return `disconnected (${event.reason}); reconnecting in ${Math.round(event.retryInMs / 100) / 10} s`;
    case 'task-started':
      return `task ${event.task}: writing ${event.disk} to [${event.datastore}] ${event.path} from block ${event.resumeFrom}`;
    case 'task-done':
      return `task ${event.task}: done, ${event.bytesWritten} bytes written`;
    case 'task-failed':
      return `task ${event.task} failed (${event.code}): ${event.message}`;
    case 'refused':
      return `refused by the engine (${event.code}): ${event.message}`;
  }
}
