import type { FaultRecord } from './fault-tracker.js';
import type { RequestRecord } from './load-generator.js';
import { type LatencySummary, maxOf, percentile, round, roundSummary, summarize } from './stats.js';

export interface RunSummary {
  config: string;
  fault: string;
  /** Warm spares the manager kept (null: a --target system's, unknown). */
  spares: number | null;
  clients: number;
  duration_s: number;
  /** Requests started in the measured time. */
  requests: number;
  /** Requests no replica answered within the client's deadline. */
  failed: number;
  /** Requests with more than one effect, from `hedge verify` after the run. */
  duplicates: number;
  /** Checks of `hedge verify` that failed after the run. */
  violations: number;
  throughput_rps: number;
  latency_ms: LatencySummary;
  fault_free_mean_ms: number | null;
  faulted_mean_ms: number | null;
  failover_bound_ms: number | null;
  detection_ms: { p50: number | null; max: number | null };
  recovery_ms: { p50: number | null; max: number | null };
  /** Beyond the required fields: how many faults, and the worst a client saw per fault. */
  faults: number;
  client_failover_ms: { p50: number | null; max: number | null };
  refused: number;
  /** Requests per second offered (open loop), or null for a closed-loop run. */
  offered_rps: number | null;
  /** Faults the manager detected that nobody injected (false positives, or real trouble). */
  spurious_faults: number;
}

/** A request overlaps a fault from its injection until its replacement serves (or, failing that, its detection). */
export function faultWindows(faults: FaultRecord[]): [number, number][] {
  return faults.map((f) => [
    f.injected_at_ms,
    f.recovered_at_ms ?? f.detected_at_ms ?? f.injected_at_ms + 30_000,
  ]);
}

export function overlapsFault(r: RequestRecord, windows: [number, number][]): boolean {
  return windows.some(([from, to]) => r.start_ms <= to && r.end_ms >= from);
}

function mean(values: number[]): number | null {
  return values.length ? round(values.reduce((a, b) => a + b, 0) / values.length) : null;
}

function p50max(values: (number | null)[]): { p50: number | null; max: number | null } {
  const present = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (present.length === 0) return { p50: null, max: null };
  return { p50: round(percentile(present, 0.5)), max: round(present[present.length - 1] as number) };
}

/**
 * The client-visible fail-over of one fault: the slowest request that was in
 * flight when it was injected or started before the manager detected it.
 */
export function clientFailoverMs(fault: FaultRecord, records: RequestRecord[]): number | null {
  const until = fault.detected_at_ms ?? fault.injected_at_ms;
  const affected = records.filter(
    (r) => r.outcome !== 'failed' && r.end_ms >= fault.injected_at_ms && r.start_ms <= until,
  );
  return affected.length ? maxOf(affected.map((r) => r.latency_ms)) : null;
}

export function summarizeRun(args: {
  config: string;
  fault: string;
  spares?: number | null;
  clients: number;
  durationMs: number;
  records: RequestRecord[];
  faults: FaultRecord[];
  duplicates: number;
  violations: number;
  offeredRps: number | null;
  spuriousFaults: number;
}): RunSummary {
  const { records, faults } = args;
  const answered = records.filter((r) => r.outcome !== 'failed');
  const windows = faultWindows(faults);
  const faulted: RequestRecord[] = [];
  const clean: RequestRecord[] = [];
  for (const r of answered) (overlapsFault(r, windows) ? faulted : clean).push(r);
  const failovers = faults.map((f) => clientFailoverMs(f, records));
  return {
    config: args.config,
    fault: args.fault,
    spares: args.spares ?? null,
    clients: args.clients,
    duration_s: args.durationMs / 1000,
    requests: records.length,
    failed: records.length - answered.length,
    duplicates: args.duplicates,
    violations: args.violations,
    throughput_rps: round(answered.length / (args.durationMs / 1000), 1),
    latency_ms: roundSummary(summarize(answered.map((r) => r.latency_ms))),
    fault_free_mean_ms: mean(clean.map((r) => r.latency_ms)),
    faulted_mean_ms: mean(faulted.map((r) => r.latency_ms)),
    failover_bound_ms: faulted.length ? round(maxOf(faulted.map((r) => r.latency_ms))) : null,
    detection_ms: p50max(faults.map((f) => f.detection_ms)),
    recovery_ms: p50max(faults.map((f) => f.recovery_ms)),
    faults: faults.length,
    client_failover_ms: p50max(failovers),
    refused: answered.filter((r) => r.outcome === 'refused').length,
    offered_rps: args.offeredRps,
    spurious_faults: args.spuriousFaults,
  };
}
