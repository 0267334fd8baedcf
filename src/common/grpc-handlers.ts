import type { handleUnaryCall, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { HedgeError, INTERNAL_ERROR, toServiceError } from './errors.js';
import type { Logger } from './logger.js';

/**
 * What an error looks like on the wire: a HedgeError as it is; anything else is
 * logged here, with its stack, and leaves as a bare INTERNAL.
 */
export function toWireError(
  err: unknown,
  log: Logger,
  context: Record<string, unknown>,
): Partial<ServiceError> {
  if (err instanceof HedgeError) return toServiceError(err);
  log.error({ err, ...context }, 'internal error');
  return INTERNAL_ERROR;
}

/** A unary handler from an async function: its result is the response, its throw the error. */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback(toWireError(err, log, { method }), null),
      );
  };
}
