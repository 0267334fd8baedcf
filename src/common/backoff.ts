/**
 * How long to wait before trying again: `initialMs`, times `multiplier` (2 unless
 * given) per further attempt, at most `maxMs`. `jitter` (0..1) takes up to that
 * fraction off at random, so that many waiters do not retry in step.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  multiplier?: number;
  jitter?: number;
}

/** The wait before attempt `attempt` (0 for the first retry). Pure but for `random`, which jitter draws on. */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, multiplier = 2, jitter = 0 } = policy;
  const delay = Math.min(maxMs, initialMs * multiplier ** Math.max(0, attempt));
  return jitter > 0 ? delay * (1 - jitter * random()) : delay;
}

/** A back-off in use: each next() waits longer, up to the policy's most; reset() after a success. */
export class Backoff {
  private attempt = 0;

  constructor(
    readonly policy: BackoffPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  /** How many waits since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const delay = backoffDelay(this.policy, this.attempt, this.random);
    this.attempt += 1;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/**
 * The figures each use had before they shared this module. The stream presets
 * reset after every message (watch-stream.ts), so they apply to a run of
 * failures, not to a stream's life.
 */
export const BACKOFF = {
  /**
   * The manager's membership stream: reconnect soon (a client wants new views),
   * then every 500 ms, so a client hears a restarted manager (back in about half a
   * second) within half a second more; a refused connection costs next to nothing.
   */
  membership: { initialMs: 100, maxMs: 500 },
  /** A client's quote stream: a steady retry, the feed is usually back within a second. */
  quotes: { initialMs: 500, maxMs: 500 },
  /** A replica's stream of ticks for armed triggers: as often as it reads the armed symbols. */
  triggerTicks: { initialMs: 1_000, maxMs: 1_000 },
  /** `hedge up` restarting the database, the feed or the manager. */
  upRestart: { initialMs: 100, maxMs: 5_000 },
  /** The manager respawning a replica that keeps failing quickly (its first quick failure waits for nothing). */
  replicaRespawn: { initialMs: 250, maxMs: 30_000 },
  /** The replicated client's rounds of a call: short first, a new view usually comes within a few hundred ms. */
  callRetry: { initialMs: 10, maxMs: 320 },
} as const satisfies Record<string, BackoffPolicy>;

/** How long a restarted process serves before its next failure counts as a fresh one. */
export const STEADY_MS = 10_000;

/**
 * The wait before restarting a process that served `servedMs` since it was
 * last ready: the back-off grows while it keeps failing soon after ready (a
 * process that crashes on its first request is not restarted every 100 ms
 * forever), and starts over once it served STEADY_MS.
 */
export function restartDelay(restarts: Backoff, servedMs: number): number {
  if (servedMs >= STEADY_MS) restarts.reset();
  return restarts.next();
}
