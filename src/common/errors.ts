import { Metadata, type ServiceError, status } from '@grpc/grpc-js';

/** The trailing-metadata entry that carries an error's machine-readable reason. */
const REASON_KEY = 'hedge-reason';

/**
 * An error meant to cross the wire: a precise gRPC status, a stable reason and a
 * message a person can act on. Anything else that escapes a handler is logged and
 * answered with a bare INTERNAL, so internals never leave the process.
 */
export class HedgeError extends Error {
  constructor(
    readonly code: status,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'HedgeError';
  }
}

export function invalidArgument(reason: string, message: string): HedgeError {
  return new HedgeError(status.INVALID_ARGUMENT, reason, message);
}

export function unauthenticated(reason: string, message: string): HedgeError {
  return new HedgeError(status.UNAUTHENTICATED, reason, message);
}

export function toServiceError(err: HedgeError): Partial<ServiceError> {
  const metadata = new Metadata();
  metadata.set(REASON_KEY, err.reason);
  return { code: err.code, details: err.message, metadata };
}

export const INTERNAL_ERROR: Partial<ServiceError> = {
  code: status.INTERNAL,
  details: 'internal error; the request may be retried with the same request id',
};

export const DATABASE_UNAVAILABLE: Partial<ServiceError> = {
  code: status.UNAVAILABLE,
  details: 'the database is unavailable for the moment; retry with the same request id',
};

/** The reason a failed call carries, if the server gave one. */
export function reasonOf(err: ServiceError): string | undefined {
  const value = err.metadata?.get(REASON_KEY)[0];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Infrastructure failures mean "this replica could not answer; ask another", and a
 * retry with the same request id is safe. Every other status is the application's
 * final answer, identical on every replica.
 */
export function isInfrastructureFailure(code: status): boolean {
  return (
    code === status.UNAVAILABLE ||
    code === status.DEADLINE_EXCEEDED ||
    code === status.INTERNAL ||
    code === status.UNKNOWN ||
    code === status.RESOURCE_EXHAUSTED ||
    code === status.CANCELLED
  );
}
