import type { status } from '@grpc/grpc-js';
import { type Retryability, retryability } from '../common/errors.js';
import { LatencyWindows } from './latency-window.js';
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
  /**
   * Instead of hedgeDelayMs: the delay for a call of this method, from what earlier
   * calls took (`observe`); and how many held back are asked then (default: all).
   */
  adaptiveHedge?: {
    delayMs(method: string): number;
    observe(method: string, latencyMs: number): void;
    count: number;
  };
  /** When an attempt on one replica is abandoned and failed over (undefined: the call's whole deadline). */
  attemptTimeoutMs?: number;
  /**
   * A replica an attempt timed out on is tried after every other member of the view
   * for this long, by every call of the client, unless it answers meanwhile or the
   * view changes (silent-replicas.ts): a replica cut off by a partition costs one
   * attempt timeout, not one per call until the manager drops it (undefined: never).
   */
  demoteSilentMs?: number;
  /** Each call starts at the next member of the view, spreading the load over the replicas. */
  rotate: boolean;
  /**
   * The first round's copies are tied (src/common/tied-copies.ts): a copy that finds a
   * sibling executing the request answers at once instead of waiting for its answer.
   */
  tied?: boolean;
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
    active: {
      fanOut: 'all',
      attemptTimeoutMs,
      rotate: false,
      tied: true,
      replaceFailed: false,
      retryability,
    },
    // One replica at a time, in view order; a silent one is waited for 1 s by default, then
    // tried last for 10 s (longer than the manager takes to replace a lost host's replica).
    passive: {
      fanOut: 1,
      attemptTimeoutMs: attemptTimeoutMs ?? 1_000,
      demoteSilentMs: 10_000,
      rotate: false,
      replaceFailed: true,
      retryability,
    },
    // The first replica of the view; a second only if no answer came within the 95th
    // percentile of this method's recent calls (each client its own), so about one
    // call in twenty costs a second copy. A failed attempt is replaced at once. Not
    // rotating: one busy replica batches its work (measured: 754–815 µs of CPU per
    // trade in all processes against 921–1,034 spread over three; single 639–797).
    deferred: {
      fanOut: 1,
      adaptiveHedge: deferredHedge(hedgeDelayMs),
      attemptTimeoutMs,
      rotate: false,
      tied: true,
      replaceFailed: true,
      retryability,
    },
    // Two replicas (by default), from a rotating start; the rest after the hedge delay, if one is set.
    hedged: {
      fanOut: hedgeSize ?? 2,
      hedgeDelayMs,
      attemptTimeoutMs,
      rotate: true,
      tied: true,
      replaceFailed: false,
      retryability,
    },
  };
}

/**
 * The deferred mode's delay: the p95 of the method's last 512 answered calls
 * (`initialMs`, 20 ms by default, until there are some; never under 1 ms, where a
 * second copy would be sent for the ordinary jitter of a loaded machine).
 */
function deferredHedge(initialMs = 20): NonNullable<ReplicationPolicy['adaptiveHedge']> {
  const windows = new LatencyWindows(0.95, initialMs, 1);
  return {
    delayMs: (method) => windows.quantile(method),
    observe: (method, ms) => windows.add(method, ms),
    count: 1,
  };
}

export const POLICIES: Record<ReplicationMode, ReplicationPolicy> = replicationPolicies();

/**
 * A stream whose chunks go to a sink (DUMPLOG's StreamLog): one replica at a
 * time, whatever the client's mode, since two would write the log twice; and no
 * attempt timeout, since a long log takes long. A failed stream resumes on the next.
 */
export const RESUMABLE_STREAM: ReplicationPolicy = { ...POLICIES.passive, attemptTimeoutMs: undefined };
