import type { Metadata } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { HedgeError } from '../common/errors.js';

export interface SessionRate {
  /** Calls per second a session may keep up, on one replica. */
  perSecond: number;
  /** Calls it may make at once after a pause. */
  burst: number;
}

/**
 * 500 calls/s per session per replica: a closed-loop session answered in 2 ms
 * stays under it; one that floods is refused before it costs the database
 * anything, and the other sessions' calls go on (test/abuse.test.ts).
 */
export const DEFAULT_SESSION_RATE: SessionRate = { perSecond: 500, burst: 500 };

/** Buckets kept before the full ones (sessions idle for a while) are dropped. */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * A token bucket per session, in this replica's memory: every replica sees
 * every call of a session in active mode, so a per-replica limit is the limit
 * (a passive client's calls go to one replica at a time). Keyed by the
 * authorization header as it arrives: no hashing on the hot path. Calls
 * without a session (Register, Login) are throttled by sign-in-throttle.ts.
 */
export class SessionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(readonly rate: SessionRate = DEFAULT_SESSION_RATE) {}

  /** RESOURCE_EXHAUSTED, with when to retry, for a call over its session's rate. */
  admit(metadata: Metadata): void {
    const key = metadata.get('authorization')[0];
    if (typeof key !== 'string') return;
    const now = performance.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.dropFull(now);
      bucket = { tokens: this.rate.burst, atMs: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(
        this.rate.burst,
        bucket.tokens + ((now - bucket.atMs) * this.rate.perSecond) / 1000,
      );
      bucket.atMs = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    const retryMs = Math.ceil(((1 - bucket.tokens) * 1000) / this.rate.perSecond);
    throw new HedgeError(
      status.RESOURCE_EXHAUSTED,
      'SESSION_RATE_EXCEEDED',
      `this session made more than ${this.rate.perSecond} calls per second; retry after ${retryMs} ms`,
      undefined,
      retryMs,
    );
  }

  private dropFull(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.atMs) * this.rate.perSecond) / 1000 >= this.rate.burst)
        this.buckets.delete(key);
    }
  }
}
