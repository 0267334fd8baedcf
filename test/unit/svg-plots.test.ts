import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../src/bench/analysis.js';
import { benchPlots, type PlottedRun } from '../../src/bench/bench-plots.js';
import { CONFIG_NAMES, FAULT_MODES } from '../../src/bench/configurations.js';
import { textOutsideSvg } from '../support/svg-text.js';

/** A run of `seconds` at 200 requests/s, latencies from 1 to 150 ms, `faults` crashes or hangs in it. */
function plottedRun(config: string, fault: string, faults: number, seconds = 20): PlottedRun {
  const fromMs = 1_700_000_000_000;
  const latencies = Array.from({ length: seconds * 200 }, (_, i) => 1 + ((i * 37) % 1_500) / 10);
  return {
    summary: { config, fault, faults } as RunSummary,
    panel: {
      title: `${config} · ${fault}`,
      fromMs,
      toMs: fromMs + seconds * 1_000,
      points: latencies.map((latencyMs, i) => ({ atMs: fromMs + i * 5, latencyMs })),
      faults: Array.from({ length: faults }, (_, i) => ({
        injectedMs: fromMs + 5_000 + i * 10_000,
        recoveredMs: fromMs + 5_700 + i * 10_000,
      })),
    },
    latencies,
  };
}

describe('the bench plots', () => {
  const layouts: [string, PlottedRun[]][] = [
    ['one panel (--configs single)', [plottedRun('single', 'none', 0)]],
    [
      'one panel with a fault (--configs active-nocache --faults hang)',
      [plottedRun('active-nocache', 'hang', 12, 60)],
    ],
    [
      'the short run of the bench test',
      [
        plottedRun('single', 'none', 0, 3),
        plottedRun('active', 'none', 0, 3),
        plottedRun('active', 'crash', 1, 3),
      ],
    ],
    [
      'every configuration and fault',
      CONFIG_NAMES.flatMap((c) =>
        (c === 'single' ? (['none'] as const) : FAULT_MODES).map((f) =>
          plottedRun(c, f, f === 'none' ? 0 : 12),
        ),
      ),
    ],
  ];

  it.each(layouts)('%s: every caption, title, label and legend fits inside the SVG', (_, runs) => {
    const { timeline, cdf } = benchPlots(runs, 1024);
    expect(textOutsideSvg(timeline)).toEqual([]);
    expect(textOutsideSvg(cdf)).toEqual([]);
  });

  it('labels each fault run with the faults it really had', () => {
    const { timeline, cdf } = benchPlots(
      [plottedRun('active', 'none', 0), plottedRun('active', 'crash', 0), plottedRun('passive', 'hang', 1)],
      16,
    );
    expect(timeline).toContain('>active · crash: 0 crashes<');
    expect(timeline).toContain('>passive · hang: 1 hang<');
    expect(cdf).toContain('>active, 0 crashes<');
    expect(cdf).not.toMatch(/every \d+ s/);
  });
});
