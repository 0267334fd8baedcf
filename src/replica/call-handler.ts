import { type ServerUnaryCall, status } from '@grpc/grpc-js';
import { HedgeError } from '../common/errors.js';
import { unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import type { SessionRateLimiter } from './session-rate-limit.js';

/**
 * The unary handlers of a replica's services: a session over its rate is
 * refused first, then the fault injector's slowness, then no work at all for a
 * copy whose caller already has its answer.
 */
export function replicaHandler(
  log: Logger,
  beforeCall?: () => Promise<void>,
  sessionRate?: SessionRateLimiter,
) {
  return <Req, Res>(method: string, fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    unary<Req, Res>(log, method, async (call) => {
      sessionRate?.admit(call.metadata);
      if (beforeCall) await beforeCall();
      if (call.cancelled) throw new HedgeError(status.CANCELLED, 'CANCELLED', 'the call was cancelled');
      return fn(call);
    });
}
