import { describe, expect, it } from 'vitest';
import {
  ACCEPTABLE_PAUSE_MS,
  MIN_STD_DEVIATION_MS,
  PhiAccrual,
  phi,
} from '../../src/replication-manager/phi-accrual.js';
import { PHI_THRESHOLD } from '../../src/replication-manager/slot-machine.js';

/** A detector fed answers `intervalsMs` apart, starting at 0; returns it and the last answer's time. */
function fed(intervalsMs: number[]): { detector: PhiAccrual; lastMs: number } {
  const detector = new PhiAccrual(100, 0);
  let lastMs = 0;
  for (const interval of intervalsMs) {
    lastMs += interval;
    detector.answered(lastMs);
  }
  return { detector, lastMs };
}

/** The first silence (in 10 ms steps) after which phi reaches the threshold. */
function silenceToSuspect(detector: PhiAccrual, lastMs: number): number {
  for (let silent = 0; ; silent += 10) if (detector.phi(lastMs + silent) >= PHI_THRESHOLD) return silent;
}

describe('the phi-accrual detector', () => {
  it('phi is -log10 of the normal tail: 0.3 at the mean, 0.8 one deviation later, past the threshold six later', () => {
    expect(phi(1_000, 1_000, 100)).toBeCloseTo(Math.log10(2), 2);
    expect(phi(1_100, 1_000, 100)).toBeCloseTo(-Math.log10(0.1587), 1);
    expect(phi(1_500, 1_000, 100)).toBeGreaterThan(6);
    // The logistic approximation overstates the far tail a little (the exact phi at 5 deviations is 6.5).
    expect(phi(1_500, 1_000, 100)).toBeLessThan(7.5);
    expect(phi(1_600, 1_000, 100)).toBeGreaterThan(PHI_THRESHOLD);
    expect(phi(0, 1_000, 100)).toBeCloseTo(0, 5);
  });

  it('rises with the silence since the last answer, and an answer brings it back down', () => {
    const { detector, lastMs } = fed(Array.from({ length: 50 }, () => 100));
    const levels = [0, 1_000, 2_000, 3_000, 4_000].map((s) => detector.phi(lastMs + s));
    expect(levels).toEqual([...levels].sort((a, b) => a - b));
    expect(levels[0]).toBeLessThan(1);
    expect(levels.at(-1)).toBeGreaterThan(PHI_THRESHOLD);
    detector.answered(lastMs + 4_000);
    expect(detector.phi(lastMs + 4_000)).toBeLessThan(1);
    expect(detector.silentMs(lastMs + 4_100)).toBe(100);
  });

  it('tolerates the acceptable pause and the minimum spread after perfectly regular answers', () => {
    const { detector, lastMs } = fed(Array.from({ length: 100 }, () => 100));
    expect(detector.phi(lastMs + 100 + ACCEPTABLE_PAUSE_MS + MIN_STD_DEVIATION_MS)).toBeLessThan(
      PHI_THRESHOLD,
    );
  });

  it('adapts: after slow, irregular answers (a loaded machine) a silence is suspected later', () => {
    const regular = fed(Array.from({ length: 100 }, () => 110));
    const loaded = fed(Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? 1_500 : 200)));
    expect(silenceToSuspect(loaded.detector, loaded.lastMs)).toBeGreaterThan(
      silenceToSuspect(regular.detector, regular.lastMs) + 1_000,
    );
  });

  it('keeps a window of recent intervals: old slow ones are forgotten', () => {
    const { detector, lastMs } = fed([
      ...Array.from({ length: 100 }, () => 2_000),
      ...Array.from({ length: 100 }, () => 100),
    ]);
    expect(silenceToSuspect(detector, lastMs)).toBe(
      silenceToSuspect(fed(Array(100).fill(100)).detector, 10_000),
    );
  });
});
