// How a secret failed, in words a user can act on, and the exit code it maps to.
// Messages name the reference and the cause, never a value.
import { EXIT } from '../exit-codes';

export type FailureKind = 'not-found' | 'denied' | 'unavailable' | 'invalid';

export class SecretError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'SecretError';
  }
}

export const EXIT_FOR: Record<FailureKind, number> = {
  'not-found': EXIT.UNAVAILABLE,
  unavailable: EXIT.UNAVAILABLE,
  denied: EXIT.NO_PERMISSION,
  invalid: EXIT.CONFIG,
};

export const notFound = (message: string) => new SecretError('not-found', message);
export const denied = (message: string) => new SecretError('denied', message);
export const unavailable = (message: string) => new SecretError('unavailable', message);
export const invalid = (message: string) => new SecretError('invalid', message);
