import type { status } from '@grpc/grpc-js';
import { type Retryability, retryability } from '../common/errors.js';
import type { ReplicationMode } from './replication-mode.js';

/**
 * How one logical call uses the replicas of the view, as data: the call engine
 * (call-engine.ts) runs every policy alike, and a new mode is a new value. After
 * grpc-js, whose RetryingCall runs a service config's hedgingPolicy (maxAttempts,
 * hedgingDelay, nonFatalStatusCodes) over whatever the picker gives it.
 */
export interface ReplicationPolicy {
  /** How many replicas a call goes to first: a number, or every member of the view. */
  fanOut: number | 'all';
  /** When the replicas held back are asked too, if no answer came by then (undefined: only in a later round). */
  hedgeDelayMs?: number;
  /** When an attempt on one replica is abandoned and failed over (undefined: the call's whole deadline). */
  attemptTimeoutMs?: number;
  /** Each call starts at the next member of the view, spreading the load over the replicas. */
  rotate: boolean;
  /**
   * A failed attempt is replaced at once by the next replica not yet tried.
   * Otherwise the call waits for the attempts still in flight, the hedge delay,
   * or, once none is left, a new round after a short back-off.
   */
  replaceFailed: boolean;
  /**
   * Which failures are asked of another replica (grpc-js's nonFatalStatusCodes) and which
   * end the call; every mode takes errors.ts's one decision.
   */
  retryability: (code: status) => Retryability;
}

/** The client's options that tune the policies (see ReplicatedClientOptions). */
export interface PolicyTuning {
  hedgeSize?: number;
  hedgeDelayMs?: number;
  attemptTimeoutMs?: number;
}

/** The policy of each mode, tuned by the client's options. */
export function replicationPolicies(tuning: PolicyTuning = {}): Record<ReplicationMode, ReplicationPolicy> {
  const { hedgeSize, hedgeDelayMs, attemptTimeoutMs } = tuning;
  return {
    // Every replica at once; the first answer wins.
    active: { fanOut: 'all', attemptTimeoutMs, rotate: false, replaceFailed: false, retryability },
    // One replica at a time, in view order; a silent one is waited for 1 s by default.
    passive: {
      fanOut: 1,
      attemptTimeoutMs: attemptTimeoutMs ?? 1_000,
      rotate: false,
      replaceFailed: true,
      retryability,
    },
    // Two replicas (by default), from a rotating start; the rest after the hedge delay, if one is set.
    hedged: {
      fanOut: hedgeSize ?? 2,
      hedgeDelayMs,
      attemptTimeoutMs,
      rotate: true,
      replaceFailed: false,
      retryability,
    },
  };
}

export const POLICIES: Record<ReplicationMode, ReplicationPolicy> = replicationPolicies();

/**
 * A stream whose chunks go to a sink (DUMPLOG's StreamLog): one replica at a
 * time, whatever the client's mode, since two would write the log twice; and no
 * attempt timeout, since a long log takes long. A failed stream resumes on the next.
 */
export const RESUMABLE_STREAM: ReplicationPolicy = { ...POLICIES.passive, attemptTimeoutMs: undefined };
