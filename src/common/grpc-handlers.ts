import {
  type handleServerStreamingCall,
  type handleUnaryCall,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { isTransientDatabaseError } from './database.js';
import { DATABASE_UNAVAILABLE, HedgeError, INTERNAL_ERROR, toServiceError } from './errors.js';
import type { Logger } from './logger.js';
import { observeServerCall } from './rpc-metrics.js';
import { traceIdOf } from './trace-context.js';

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

/** What every per-request log line carries: the method, the request id (for requests that have one) and the trace id. */
export function requestLogContext(
  method: string,
  call: { request?: unknown; metadata: ServerUnaryCall<unknown, unknown>['metadata'] },
): Record<string, unknown> {
  const requestId = (call.request as { request_id?: unknown } | undefined)?.request_id;
  return {
    method,
    ...(typeof requestId === 'string' && requestId !== '' ? { requestId } : {}),
    traceId: traceIdOf(call.metadata),
  };
}

/**
 * A unary handler from an async function: its result is the response, its throw
 * the error. Every call is counted and timed by outcome (rpc-metrics.ts), and
 * logged at debug level with its request and trace ids.
 */
export function unary<Req, Res>(
  log: Logger,
  method: string,
  fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res> | Res,
): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = process.hrtime.bigint();
    const finished = (code: status) => {
      observeServerCall(call.getPath(), code, started);
      if (log.isLevelEnabled('debug')) log.debug({ ...requestLogContext(method, call), code }, 'rpc');
    };
    Promise.resolve()
      .then(() => fn(call))
      .then(
        (response) => {
          finished(status.OK);
          callback(null, response);
        },
        (err: unknown) => {
          const wire = toWireError(err, log, requestLogContext(method, call));
          finished(wire.code ?? status.UNKNOWN);
          callback(wire, null);
        },
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
    const started = process.hrtime.bigint();
    let observed = false;
    const finished = (code: status) => {
      if (observed) return;
      observed = true;
      observeServerCall(call.getPath(), code, started);
    };
    call.once('finish', () => finished(status.OK));
    call.once('cancelled', () => finished(status.CANCELLED));
    Promise.resolve()
      .then(() => fn(call))
      .catch((err: unknown) => {
        const wire = toWireError(err, log, requestLogContext(method, call));
        finished(wire.code ?? status.UNKNOWN);
        call.emit('error', wire);
      });
  };
}
