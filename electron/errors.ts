// One error type for everything the operator may see: a stable code for programs, a sentence for
// people. The codes and the wire shape are the contract's (shared/contract.ts); anything else that
// escapes is a bug and is reported as 'internal'.
import type { ErrorCode, WireError } from '../shared/contract.ts';
import { errorCodes } from '../shared/generated/channels.ts';

export type { ErrorCode };

export class LifeboatError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LifeboatError';
    this.code = code;
  }
}

/** The contract's code an error carries: a LifeboatError's, or a RemoteError's passed on from
 * another engine (the CLI's). Errno and library codes are not the contract's. */
function contractCode(error: Error): ErrorCode | undefined {
  return 'code' in error ? errorCodes.find((code) => code === error.code) : undefined;
}

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { code: 'internal', message: String(error) };
  return { code: contractCode(error) ?? 'internal', message: error.message };
}

export function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
