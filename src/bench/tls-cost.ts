import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentTransport, useTransport } from '../tls/transport.js';
import { textTable } from '../ui/text-table.js';
import type { RunSummary } from './analysis.js';
import type { BenchSummary } from './report.js';
import { type BenchOptions, runBench } from './run-bench.js';

export interface TlsCost {
  tls: BenchSummary;
  insecure: BenchSummary;
}

/**
 * `hedge bench --tls-cost`: the same benchmark twice in one run, each with a
 * system of its own: first with mutual TLS (the default), then with every process
 * started --insecure and this one's channels plaintext. The results go to
 * <out>/tls and <out>/insecure; the comparison to <out>/tls-cost.md.
 */
export async function runTlsCost(options: BenchOptions): Promise<TlsCost> {
  const secure = currentTransport();
  if (secure.insecure) throw new Error('--tls-cost compares TLS with --insecure: leave --insecure off');
  if (options.target) throw new Error('--tls-cost starts its own systems: it cannot use --target');
  const tls = await runBench({ ...options, outDir: join(options.outDir, 'tls') });
  const before = process.env.HEDGE_INSECURE;
  useTransport({ insecure: true });
  process.env.HEDGE_INSECURE = '1';
  let insecure: BenchSummary;
  try {
    insecure = await runBench({ ...options, outDir: join(options.outDir, 'insecure') });
  } finally {
    useTransport(secure);
    if (before === undefined) delete process.env.HEDGE_INSECURE;
    else process.env.HEDGE_INSECURE = before;
  }
  const cost = { tls, insecure };
  writeFileSync(join(options.outDir, 'tls-cost.md'), `${formatTlsCost(cost, true)}\n`);
  return cost;
}

const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)} ×` : '–';
const fixed = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(v < 10 ? 2 : 1));

/** Per configuration: p50 of the fault-free open-loop run and closed-loop capacity, with TLS and without. */
export function formatTlsCost({ tls, insecure }: TlsCost, markdown = false): string {
  const find = (runs: RunSummary[], config: string) =>
    runs.find((r) => r.config === config && r.fault === 'none');
  const configs = [...new Set([...tls.runs, ...tls.capacity].map((r) => r.config))];
  const header = [
    'configuration',
    'p50 ms TLS',
    'p50 ms plaintext',
    'p50 TLS/plaintext',
    'capacity req/s TLS',
    'capacity req/s plaintext',
    'capacity TLS/plaintext',
  ];
  const rows = configs.map((config) => {
    const [a, b] = [find(tls.runs, config), find(insecure.runs, config)];
    const [ca, cb] = [find(tls.capacity, config), find(insecure.capacity, config)];
    return [
      config,
      fixed(a?.latency_ms.p50),
      fixed(b?.latency_ms.p50),
      ratio(a?.latency_ms.p50, b?.latency_ms.p50),
      fixed(ca?.throughput_rps),
      fixed(cb?.throughput_rps),
      ratio(ca?.throughput_rps, cb?.throughput_rps),
    ];
  });
  const title = `The cost of mutual TLS (same run, TLS first, then --insecure; ${tls.load}):`;
  if (!markdown) return `${title}\n${textTable(header, rows, [0])}\n`;
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    `# ${title}`,
    '',
    '```',
    tls.command,
    '```',
    '',
    line(header),
    line(header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows.map(line),
  ].join('\n');
}
