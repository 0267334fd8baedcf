import { DATABASE_UNAVAILABLE, reasonOf } from '../common/errors.js';
import type { WireFailure } from './call-engine.js';

/**
 * How long, in all, a call goes on by default while the database is failing over:
 * Patroni's documented fail-over under `hedge up --ha` pauses writes 4–11 s after
 * a SIGKILL of the primary and up to its ttl plus a few seconds (13–16 s measured)
 * after a frozen primary host, so 30 s covers both with room for a loaded machine.
 */
export const FAILOVER_BUDGET_MS = 30_000;
/**
 * How long a call goes on by default when the only sign of a fail-over is that
 * every replica of the view went silent on it: a frozen primary looks so until
 * Patroni replaces it (13–16 s measured), but so does a client cut off from every
 * replica, which would otherwise learn of it only after the whole budget. A word
 * from a replica (DATABASE_UNAVAILABLE) or the manager (replicas out of the view)
 * still extends the call to FAILOVER_BUDGET_MS.
 */
export const SILENCE_BUDGET_MS = 20_000;

/** Whether a replica answered that its database is away (no primary, a connection cut by a fail-over). */
export function isDatabaseUnavailable(err: WireFailure): boolean {
  return reasonOf(err) === DATABASE_UNAVAILABLE.reason;
}

/**
 * What one client last heard of its database: the time a replica last answered
 * DATABASE_UNAVAILABLE to any of its calls. During a fail-over the replicas soon
 * report NOT_SERVING and leave the view, so a call that starts then may hear
 * nothing from any replica; it still gets the fail-over budget if another call
 * of the client heard the database was away within that budget (or if the view
 * is empty when its deadline runs out: call-engine.ts).
 */
export class DatabaseOutageMemory {
  private lastMs = Number.NEGATIVE_INFINITY;

  note(atMs = Date.now()): void {
    this.lastMs = atMs;
  }

  /** Whether the database was reported away within the last `windowMs`. */
  recent(windowMs: number, nowMs = Date.now()): boolean {
    return nowMs - this.lastMs <= windowMs;
  }
}
