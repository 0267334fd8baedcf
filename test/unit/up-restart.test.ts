import { describe, expect, it } from 'vitest';
import { BACKOFF, Backoff } from '../../src/common/backoff.js';
import { restartDelay, STEADY_MS } from '../../src/up/run-up.js';

describe('hedge up restart policy', () => {
  it('backs off a process that keeps failing soon after it is ready, and starts over once it served a while', () => {
    const restarts = new Backoff(BACKOFF.upRestart);
    // Each restart reports ready, then fails 50 ms later.
    const quick = Array.from({ length: 8 }, () => restartDelay(restarts, 50));
    expect(quick).toEqual([100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
    expect(restartDelay(restarts, STEADY_MS)).toBe(100);
    expect(restartDelay(restarts, 50)).toBe(200);
  });
});
