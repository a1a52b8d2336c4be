// One error type for everything the operator may see: a stable code for programs, a sentence for
// people. Anything else that escapes is a bug and is reported as 'internal'.
import { RemoteError } from '../shared/frame-client.ts';

export type ErrorCode =
  | 'bad-request'
  | 'not-found'
  | 'conflict'
  | 'invalid-source'
  | 'corrupt-disk'
  | 'corrupt-backup'
  | 'target-not-empty'
  | 'target-full'
  | 'cancelled'
  | 'unavailable'
  | 'unauthorized'
  | 'internal';

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LifeboatError';
    this.code = code;
  }
}

export function toWireError(error: unknown): { code: string; message: string } {
  if (error instanceof LifeboatError || error instanceof RemoteError) return { code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message };
}

export function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
