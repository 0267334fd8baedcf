import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceError,
} from '@grpc/grpc-js';
import { isTransientDatabaseError } from './database.js';
import { DATABASE_UNAVAILABLE, HedgeError, INTERNAL_ERROR, toServiceError } from './errors.js';
import type { Logger } from './logger.js';

/**
 * What an error looks like on the wire, always a HedgeError's one shape: a
 * HedgeError as it is; a database that is restarting, unreachable or asked the
 * transaction to retry, as UNAVAILABLE (a passing condition: clients retry, with
 * the same request id, as they must); anything else is logged here, with its
 * stack, and leaves as INTERNAL with nothing of it, which clients take for a bug
 * that every replica would repeat.
 */
export function toWireError(
  err: unknown,
  log: Logger,
  context: Record<string, unknown>,
): Partial<ServiceError> {
  if (err instanceof HedgeError) return toServiceError(err);
  if (isTransientDatabaseError(err)) {
    log.warn({ err, ...context }, 'database unavailable');
    return toServiceError(DATABASE_UNAVAILABLE);
  }
  log.error({ err, ...context }, 'internal error');
  return toServiceError(INTERNAL_ERROR);
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

/**
 * A server-streaming handler from a function that writes to the call (and ends it
 * or keeps it open); what it throws, at once or later, ends the stream with that error.
 */
export function serverStream<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: ServerWritableStream<Req, Res>) => Promise<void> | void,
): handleServerStreamingCall<Req, Res> {
  return (call) => {
    Promise.resolve()
      .then(() => fn(call))
      .catch((err: unknown) => call.emit('error', toWireError(err, log, { method })));
  };
}
