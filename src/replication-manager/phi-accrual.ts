/**
 * A phi-accrual failure detector (Hayashibara et al. 2004, as Cassandra and Akka
 * use it) over the times a replica's heartbeats were answered. Instead of "late
 * or not" it gives a suspicion level, phi = -log10(P(an answer comes later than
 * this)), from the mean and spread of the recent intervals between answers: a
 * replica whose answers have been slow and irregular (a loaded machine) is
 * suspected later than one whose answers were regular.
 */

/** How many recent intervals the distribution is estimated from. */
const WINDOW = 100;
/**
 * A floor on the spread: a run of perfectly regular answers would otherwise make
 * the first late one look infinitely suspicious.
 */
export const MIN_STD_DEVIATION_MS = 250;
/**
 * A pause the detector tolerates on top of the mean interval before suspicion
 * rises: a garbage collection, a burst of load on a shared machine.
 */
export const ACCEPTABLE_PAUSE_MS = 1_500;

export class PhiAccrual {
  private readonly intervals: number[] = [];
  private lastMs: number;

  /**
   * `firstIntervalMs`: the interval expected before any was seen (the heartbeat
   * interval); `nowMs`: when the replica was last known to answer (ready, adopted).
   */
  constructor(firstIntervalMs: number, nowMs: number) {
    // As Akka bootstraps: two samples around the guess, so that the spread is not zero.
    this.intervals.push(firstIntervalMs * 0.75, firstIntervalMs * 1.25);
    this.lastMs = nowMs;
  }

  /** A heartbeat was answered at `nowMs`. */
  answered(nowMs: number): void {
    this.intervals.push(Math.max(0, nowMs - this.lastMs));
    if (this.intervals.length > WINDOW) this.intervals.shift();
    this.lastMs = nowMs;
  }

  /** How long since the last answer. */
  silentMs(nowMs: number): number {
    return Math.max(0, nowMs - this.lastMs);
  }

  phi(nowMs: number): number {
    const n = this.intervals.length;
    const mean = this.intervals.reduce((a, b) => a + b, 0) / n;
    const variance = this.intervals.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    return phi(
      this.silentMs(nowMs),
      mean + ACCEPTABLE_PAUSE_MS,
      Math.max(Math.sqrt(variance), MIN_STD_DEVIATION_MS),
    );
  }
}

/**
 * -log10 of the probability that a normally distributed interval (mean, std)
 * exceeds `elapsedMs`, with the logistic approximation of the normal tail Akka
 * uses (close near the mean, a little high far out, which only suspects sooner).
 */
export function phi(elapsedMs: number, meanMs: number, stdMs: number): number {
  const y = (elapsedMs - meanMs) / stdMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return elapsedMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e));
}
