import type { RunningSystem } from './run-up.js';

/** Where `hedge up`'s processes serve metrics; replicas come and go, so their list is the file_sd directory. */
export function metricsLine(metrics: NonNullable<RunningSystem['metrics']>): string {
  return `metrics: manager ${metrics.manager} · feed ${metrics.feed} · every process, replicas too: ${metrics.targetsDir}/*.json`;
}
