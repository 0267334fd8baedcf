/**
 * The deadline of a probe sent to a replica whose host agent is silent, adapted
 * to how fast that replica answers (decision: issue 16, adaptive probes). A fixed
 * deadline below the link's round trip would condemn every healthy replica on a
 * slow link at the first hiccup of its agent; a deadline far above it would make
 * a cut-off host's replicas take seconds more to judge.
 */

/** The floor: a health check answers in milliseconds on a near link, even on a busy replica. */
export const PROBE_FLOOR_MS = 250;
/** The ceiling, whatever the answers and misses (the regular heartbeat's longest check). */
export const PROBE_CEILING_MS = 2_000;
/** A probe waits this many times the replica's recent slow answer. */
const LATENCY_FACTOR = 3;
/** How many recent answers are kept, and the share of them the high percentile leaves above. */
const WINDOW = 20;
const PERCENTILE = 0.9;

export class AnswerLatency {
  private readonly recent: number[] = [];

  /** One answered health check's time, request to answer. */
  answered(ms: number): void {
    this.recent.push(ms);
    if (this.recent.length > WINDOW) this.recent.shift();
  }

  /** A recent high percentile of the answer times (0 before any answer). */
  highMs(): number {
    if (this.recent.length === 0) return 0;
    const sorted = [...this.recent].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(PERCENTILE * sorted.length))] ?? 0;
  }

  /**
   * The deadline for the next probe after `misses` unanswered in a row: three times the
   * recent high percentile, at least the floor, doubled after each miss (the link may have
   * slowed since the last answer, and an answer cut off by a deadline is never seen), at
   * most the ceiling.
   */
  probeDeadlineMs(misses: number): number {
    const base = Math.max(PROBE_FLOOR_MS, LATENCY_FACTOR * this.highMs());
    return Math.min(PROBE_CEILING_MS, base * 2 ** Math.min(misses, 8));
  }
}
