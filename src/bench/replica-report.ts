import { textTable } from '../ui/text-table.js';
import type { runReplicaBench } from './replica-bench.js';

type Result = Awaited<ReturnType<typeof runReplicaBench>>;

export function formatReplicaBench(result: Result): string {
  const m = result.machine;
  const lines = [
    `hedge bench-replica — ${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, Node ${m.node}; ${result.duration_s} s per row`,
    '',
    textTable(
      ['configuration', 'clients', 'requests', 'failed', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'],
      result.rows.map((r) => [
        r.config,
        r.clients,
        r.requests,
        r.failed,
        r.throughput_rps,
        r.latency_ms.p50,
        r.latency_ms.p90,
        r.latency_ms.p99,
        r.latency_ms.max,
      ]),
    ),
    '',
  ];
  for (const clients of new Set(result.rows.map((r) => r.clients))) {
    const single = result.rows.find((r) => r.config === 'single' && r.clients === clients);
    for (const r of result.rows.filter((x) => x.config !== 'single' && x.clients === clients)) {
      if (single) {
        lines.push(
          `${clients} client(s): ${r.config} p50 = ${(r.latency_ms.p50 / single.latency_ms.p50).toFixed(2)} × single; ` +
            `throughput = ${(r.throughput_rps / single.throughput_rps).toFixed(2)} × single`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
