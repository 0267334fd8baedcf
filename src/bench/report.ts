import { textTable } from '../ui/text-table.js';
import type { RunSummary } from './analysis.js';
import { SEED_FIGURES } from './configurations.js';
import type { describeMachine } from './machine.js';

export interface BenchSummary {
  machine: ReturnType<typeof describeMachine> & { postgres: string };
  command: string;
  started_at: string;
  /** How the measured runs offered their load. */
  load: string;
  runs: RunSummary[];
  /** Closed-loop, fault-free runs: the most each configuration sustains. */
  capacity: RunSummary[];
}

const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '–' : v.toFixed(v < 10 ? 2 : 1);

function row(cells: (string | number)[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** A table both report.md and the terminal show: the first `textColumns` columns are text, the rest figures. */
interface Table {
  header: string[];
  textColumns: number;
  rows: (string | number)[][];
}

function markdownTable(t: Table): string[] {
  return [
    row(t.header),
    row(t.header.map((_, i) => (i < t.textColumns ? '---' : '---:'))),
    ...t.rows.map(row),
  ];
}

function terminalTable(t: Table): string {
  return textTable(
    t.header,
    t.rows,
    t.header.map((_, i) => i).filter((i) => i < t.textColumns),
  );
}

/** Per configuration: the seed's averages (fault-free, with a fault, fail-over bound) beside ours. */
function seedTable(summary: BenchSummary): Table {
  const configs = [...new Set(summary.runs.map((r) => r.config))];
  return {
    header: [
      'configuration',
      'avg fault-free ms',
      'avg with a fault ms',
      'fail-over bound ms',
      'seed: fault-free',
      'seed: with a fault',
      'seed: bound',
    ],
    textColumns: 1,
    rows: configs.map((config) => {
      const runs = summary.runs.filter((r) => r.config === config);
      const clean = runs.find((r) => r.fault === 'none');
      const crash = runs.find((r) => r.fault === 'crash');
      const seed = SEED_FIGURES[config as keyof typeof SEED_FIGURES];
      return [
        config,
        ms(clean?.latency_ms.mean ?? crash?.fault_free_mean_ms),
        ms(crash?.faulted_mean_ms),
        ms(crash?.failover_bound_ms),
        seed ? String(seed.fault_free_mean_ms) : '–',
        seed ? String(seed.faulted_mean_ms) : '–',
        seed?.failover_bound_ms ? String(seed.failover_bound_ms) : '–',
      ];
    }),
  };
}

/** Every measured run with the faults it really had, its counts and percentiles. */
function latencyTable(summary: BenchSummary): Table {
  return {
    header: [
      'configuration',
      'fault',
      'spares',
      'faults',
      'clients',
      'requests',
      'failed',
      'duplicates',
      'req/s',
      'mean',
      'p50',
      'p90',
      'p99',
      'p99.9',
      'max',
    ],
    textColumns: 2,
    rows: summary.runs.map((r) => {
      const l = r.latency_ms;
      return [
        r.config,
        r.fault,
        r.spares ?? '–',
        r.faults,
        r.clients,
        r.requests,
        r.failed,
        r.duplicates,
        r.throughput_rps,
        ms(l.mean),
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max),
      ];
    }),
  };
}

/** What `hedge bench` prints at the end: the seed comparison, every run's figures, and where the rest is. */
export function formatBenchSummary(summary: BenchSummary, outDir: string): string {
  const m = summary.machine;
  return [
    `hedge bench — ${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, Node ${m.node}, ${m.postgres}`,
    `load: ${summary.load}`,
    '',
    'Against the seed (averages; "with a fault": requests in flight between a crash and its replacement serving):',
    '',
    terminalTable(seedTable(summary)),
    '',
    'Latency (ms) and throughput; faults: the faults each run really had:',
    '',
    terminalTable(latencyTable(summary)),
    '',
    `results in ${outDir}/ (report.md, summary.json, plots, raw data)`,
    '',
  ].join('\n');
}

/**
 * report.md: first the seed's table (average fault-free, average with a fault,
 * fail-over bound) with the seed's own figures beside ours, then percentiles,
 * then the faults.
 */
export function renderReport(summary: BenchSummary): string {
  const m = summary.machine;
  const lines = [
    '# hedge bench',
    '',
    `${summary.started_at} · ${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, ${m.platform}, Node ${m.node}, ${m.postgres}.`,
    'Every process (PostgreSQL, feed, manager, replicas, and the load generator with its clients) on this one machine.',
    '',
    '```sh',
    summary.command,
    '```',
    '',
    `Load of the measured runs: ${summary.load}.`,
    '',
    '## Against the seed',
    '',
    "Averages as the seed reported them; the seed's figures are from its own paper (Java/CORBA, several machines, a replica killed every 15 s).",
    'Ours: "with a fault" averages the requests in flight between an injected crash and its replacement serving; the bound is the slowest of them.',
    '',
    ...markdownTable(seedTable(summary)),
  ];
  if (summary.capacity.length) {
    lines.push(
      '',
      '## Capacity',
      '',
      `Closed loop, no faults: ${summary.capacity[0]?.clients} clients, each sending as soon as its previous call returns: the most each configuration sustains on this machine. Latency here is mostly queueing.`,
      '',
      row(['configuration', 'requests/s', 'p50 ms', 'p99 ms', 'failed', 'duplicates']),
      row(['---', '---:', '---:', '---:', '---:', '---:']),
    );
    for (const c of summary.capacity) {
      lines.push(
        row([c.config, c.throughput_rps, ms(c.latency_ms.p50), ms(c.latency_ms.p99), c.failed, c.duplicates]),
      );
    }
  }
  lines.push('', '## Latency and throughput', '', ...markdownTable(latencyTable(summary)));
  const single = summary.runs.find((r) => r.config === 'single' && r.fault === 'none');
  if (single) {
    lines.push('', 'Cost of replication (same run, no faults), p50 relative to `single`:', '');
    for (const r of summary.runs.filter((x) => x.fault === 'none' && x.config !== 'single')) {
      lines.push(
        `- ${r.config}: ${(r.latency_ms.p50 / single.latency_ms.p50).toFixed(2)} × (${ms(r.latency_ms.p50)} vs ${ms(single.latency_ms.p50)} ms); throughput ${(r.throughput_rps / single.throughput_rps).toFixed(2)} ×`,
      );
    }
  }
  const faulted = summary.runs.filter((r) => r.faults > 0 || r.fault === 'overload');
  if (faulted.length) {
    lines.push(
      '',
      '## Faults',
      '',
      "Detection: injection to the manager finding the replica faulty. Recovery: injection to the replacement (a warm spare, or the slot's next process) serving in the view. Client-visible fail-over: the slowest request in flight at the injection or started before its detection. Spurious faults: replicas the manager found faulty that nobody injected (under overload: two busy loops beside the system and more load than it sustains, nothing injected).",
      '',
      row([
        'configuration',
        'fault',
        'spares',
        'faults',
        'detection p50 ms',
        'detection max',
        'recovery p50 ms',
        'recovery max',
        'client fail-over p50 ms',
        'client fail-over max',
        'failed requests',
        'spurious faults',
      ]),
      row(['---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
    );
    for (const r of faulted) {
      lines.push(
        row([
          r.config,
          r.fault,
          r.spares ?? '–',
          r.faults,
          ms(r.detection_ms.p50),
          ms(r.detection_ms.max),
          ms(r.recovery_ms.p50),
          ms(r.recovery_ms.max),
          ms(r.client_failover_ms.p50),
          ms(r.client_failover_ms.max),
          r.failed,
          r.spurious_faults,
        ]),
      );
    }
  }
  lines.push(
    '',
    '## Plots',
    '',
    '![latency over time, faults marked](latency-over-time.svg)',
    '',
    '![latency CDFs](latency-cdf.svg)',
    '',
    'Raw data: `requests.ndjson` (one line per request: start, end, outcome, answering replica, attempts, and whether a fault was in flight) and `faults.ndjson` (one line per fault: injection, detection and recovery times).',
    '',
  );
  return lines.join('\n');
}
