import { setTimeout as delay } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';
import { HedgeError } from '../common/errors.js';
import { unary } from '../common/grpc-handlers.js';
import type { Logger } from '../common/logger.js';
import type { ReplicaAdminHandlers } from '../gen/hedge/v1/ReplicaAdmin.js';

/** The fault injector's "slow" fault: latency added to every Trading call, for a while. */
export class Slowness {
  private delayMs = 0;
  private untilMs = 0;

  set(delayMs: number, durationMs: number): void {
    this.delayMs = delayMs;
    this.untilMs = durationMs > 0 ? Date.now() + durationMs : Number.POSITIVE_INFINITY;
  }

  /** Resolves after the added delay, or at once when no fault is on. */
  async apply(): Promise<void> {
    if (this.delayMs > 0 && Date.now() < this.untilMs) {
      await delay(this.delayMs);
    }
  }
}

export function replicaAdminHandlers(
  slowness: Slowness,
  allowed: boolean,
  log: Logger,
): ReplicaAdminHandlers {
  return {
    SetSlowness: unary(log, 'SetSlowness', (call) => {
      if (!allowed) {
        throw new HedgeError(
          status.PERMISSION_DENIED,
          'FAULT_INJECTION_DISABLED',
          'fault injection is off on this replica; start it with --allow-fault-injection',
        );
      }
      slowness.set(call.request.delay_ms, call.request.duration_ms);
      log.warn(
        { delayMs: call.request.delay_ms, durationMs: call.request.duration_ms },
        'slowness fault set',
      );
      return {};
    }),
  };
}
