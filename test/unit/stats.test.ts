import { describe, expect, it } from 'vitest';
import { maxOf, minOf, percentile } from '../../src/bench/stats.js';
import { cdfSvg } from '../../src/bench/svg-plots.js';

describe('bench statistics', () => {
  it('maxOf and minOf take the bound into account and handle empty input', () => {
    expect(maxOf([3, 9, 4])).toBe(9);
    expect(maxOf([3, 9, 4], 10)).toBe(10);
    expect(minOf([3, 9, 4])).toBe(3);
    expect(minOf([3, 9, 4], 0.5)).toBe(0.5);
    expect(maxOf([], 1)).toBe(1);
  });

  it('a chart of half a million latencies is drawn (spreading them into Math.max overflowed the stack)', () => {
    const latencies = Array.from({ length: 500_000 }, (_, i) => 1 + (i % 1_000) / 10);
    expect(maxOf(latencies)).toBe(100.9);
    const svg = cdfSvg([{ label: 'active', latencies }], 'half a million requests');
    expect(svg.startsWith('<svg')).toBe(true);
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.99)).toBe(4);
  });
});
