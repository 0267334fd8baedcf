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
    'µs of CPU per answered request, by process (utime + stime from /proc; rest: the database server and feed processes of hedge):',
    '',
    textTable(
      ['configuration', 'clients', 'client', 'replicas', 'postgres', 'rest', 'total'],
      result.rows.map((r) => [
        r.config,
        r.clients,
        r.cpu_us_per_request.client,
        r.cpu_us_per_request.replicas,
        r.cpu_us_per_request.postgres,
        r.cpu_us_per_request.rest,
        r.cpu_us_per_request.total,
      ]),
    ),
    '',
    'One copy of a buy by how it ends: one client, one call at a time, one replica; µs of CPU per copy:',
    '',
    textTable(
      ['copy', 'requests', 'p50 ms', 'client', 'replica', 'postgres', 'rest', 'total'],
      result.copies.map((c) => [
        c.path,
        c.requests,
        c.latency_ms_p50,
        c.cpu_us_per_request.client,
        c.cpu_us_per_request.replicas,
        c.cpu_us_per_request.postgres,
        c.cpu_us_per_request.rest,
        c.cpu_us_per_request.total,
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
