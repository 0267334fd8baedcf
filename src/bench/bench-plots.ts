import type { RunSummary } from './analysis.js';
import { cdfSvg, type TimelinePanel, timelineSvg } from './svg-plots.js';

/** What the plots need of one measured run. */
export interface PlottedRun {
  summary: RunSummary;
  panel: TimelinePanel;
  latencies: number[];
}

/** "2 crashes", "1 hang": how many faults a run really had, in its plot labels. */
export function faultCount(count: number, fault: string): string {
  return `${count} ${fault}${count === 1 ? '' : fault.endsWith('h') ? 'es' : 's'}`;
}

/**
 * The bench's two plots: latency over time, a row of panels per configuration;
 * and the latency distributions of the fault-free and the crash runs, each
 * crash run labelled with the crashes it really had.
 */
export function benchPlots(runs: PlottedRun[], clients: number): { timeline: string; cdf: string } {
  const configs = [...new Set(runs.map((r) => r.summary.config))];
  const timeline = timelineSvg(
    configs.map((c) =>
      runs
        .filter((r) => r.summary.config === c)
        .map((r) => ({
          ...r.panel,
          title:
            r.summary.fault === 'none'
              ? r.panel.title
              : `${r.panel.title}: ${faultCount(r.summary.faults, r.summary.fault)}`,
        })),
    ),
  );
  const cdf = cdfSvg(
    runs
      .filter((r) => r.summary.fault === 'none' || r.summary.fault === 'crash')
      .map((r) => ({
        label:
          r.summary.fault === 'none'
            ? r.summary.config
            : `${r.summary.config}, ${faultCount(r.summary.faults, 'crash')}`,
        latencies: r.latencies,
        dashed: r.summary.fault !== 'none',
      })),
    `request latency, ${clients} clients (dashed: runs with replicas crashed, as often as the legend says)`,
  );
  return { timeline, cdf };
}
