import { describe, expect, it } from 'vitest';
import { BACKOFF, Backoff, backoffDelay } from '../../src/common/backoff.js';

function waits(backoff: Backoff, n: number): number[] {
  return Array.from({ length: n }, () => backoff.next());
}

describe('back-off', () => {
  it('starts at the initial wait, multiplies it each time, and stops at the most', () => {
    expect(waits(new Backoff({ initialMs: 100, maxMs: 2_000 }), 7)).toEqual([
      100, 200, 400, 800, 1_600, 2_000, 2_000,
    ]);
    expect(waits(new Backoff({ initialMs: 10, maxMs: 1_000, multiplier: 3 }), 6)).toEqual([
      10, 30, 90, 270, 810, 1_000,
    ]);
  });

  it('starts again at the initial wait after reset(), and counts its attempts', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 5_000 });
    waits(backoff, 3);
    expect(backoff.attempts).toBe(3);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(waits(backoff, 2)).toEqual([100, 200]);
  });

  it('takes off at most the jitter fraction, drawn from the random source', () => {
    const policy = { initialMs: 1_000, maxMs: 1_000, jitter: 0.25 };
    expect(backoffDelay(policy, 0, () => 0)).toBe(1_000);
    expect(backoffDelay(policy, 0, () => 0.5)).toBe(875);
    expect(backoffDelay(policy, 0, () => 0.999_999)).toBeGreaterThan(750);
    expect(new Backoff(policy, () => 1).next()).toBe(750);
  });

  it('keeps each use at the figures it had', () => {
    // Membership: 100 ms doubling to 500 ms (issue 11: a restarted manager is heard soon); quotes: a steady
    // 500 ms; trigger ticks: a steady 1 s.
    expect(waits(new Backoff(BACKOFF.membership), 5)).toEqual([100, 200, 400, 500, 500]);
    expect(waits(new Backoff(BACKOFF.quotes), 3)).toEqual([500, 500, 500]);
    expect(waits(new Backoff(BACKOFF.triggerTicks), 2)).toEqual([1_000, 1_000]);
    // hedge up's restarts: 100 ms doubling to 5 s.
    expect(waits(new Backoff(BACKOFF.upRestart), 8)).toEqual([
      100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000,
    ]);
    // The manager's respawns after the free first one: 250 ms doubling to 30 s.
    expect([0, 1, 6, 7, 20].map((a) => backoffDelay(BACKOFF.replicaRespawn, a))).toEqual([
      250, 500, 16_000, 30_000, 30_000,
    ]);
    // The replicated client's rounds: 10 ms doubling to 320 ms.
    expect([0, 1, 5, 6, 40].map((a) => backoffDelay(BACKOFF.callRetry, a))).toEqual([10, 20, 320, 320, 320]);
  });
});
