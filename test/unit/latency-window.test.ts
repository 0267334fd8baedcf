import { describe, expect, it } from 'vitest';
import { LatencyWindows } from '../../src/client/latency-window.js';

describe('LatencyWindows', () => {
  it('gives the initial value until a method has samples, then the quantile of its recent calls', () => {
    const w = new LatencyWindows(0.95, 20, 1);
    expect(w.quantile('/a')).toBe(20);
    for (let i = 1; i <= 100; i++) w.add('/a', i);
    // 100 samples 1..100: the nearest-rank 95th percentile of the first 96 (refreshed every 32) is 92.
    expect(w.quantile('/a')).toBe(92);
    // Each method its own.
    expect(w.quantile('/b')).toBe(20);
  });

  it('forgets old samples: only the last 512 count', () => {
    const w = new LatencyWindows(0.5, 20, 1);
    for (let i = 0; i < 512; i++) w.add('/a', 1000);
    for (let i = 0; i < 512; i++) w.add('/a', 3);
    expect(w.quantile('/a')).toBe(3);
  });

  it('never gives less than the floor', () => {
    const w = new LatencyWindows(0.95, 20, 1);
    for (let i = 0; i < 64; i++) w.add('/a', 0.2);
    expect(w.quantile('/a')).toBe(1);
  });
});
