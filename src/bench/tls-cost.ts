import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { currentTransport, type Transport, useTransport } from '../tls/transport.js';
import { textTable } from '../ui/text-table.js';
import type { RunSummary } from './analysis.js';
import type { BenchSummary } from './report.js';
import { type BenchOptions, runBench } from './run-bench.js';

export interface TlsCost {
  /** The two TLS runs, first and last. */
  tls: BenchSummary[];
  /** The two plaintext runs, in the middle. */
  insecure: BenchSummary[];
}

/**
 * `hedge bench --tls-cost`: the same benchmark four times in one run, each with a
 * system of its own, in the order TLS, plaintext, plaintext, TLS, so that a
 * machine that grows busier or quieter during the run (a shared one does) weighs
 * on both alike; each figure is the mean of its two runs. Plaintext runs start
 * every process --insecure and make this one's channels plaintext. Results go to
 * <out>/tls-1, insecure-1, insecure-2, tls-2; the comparison to <out>/tls-cost.md.
 */
export async function runTlsCost(options: BenchOptions): Promise<TlsCost> {
  const secure = currentTransport();
  if (secure.insecure) throw new Error('--tls-cost compares TLS with --insecure: leave --insecure off');
  if (options.target) throw new Error('--tls-cost starts its own systems: it cannot use --target');
  const before = process.env.HEDGE_INSECURE;
  const run = async (transport: Transport, name: string) => {
    useTransport(transport);
    if (transport.insecure) process.env.HEDGE_INSECURE = '1';
    else if (before === undefined) delete process.env.HEDGE_INSECURE;
    else process.env.HEDGE_INSECURE = before;
    return runBench({ ...options, outDir: join(options.outDir, name) });
  };
  const plaintext: Transport = { insecure: true };
  try {
    const tls1 = await run(secure, 'tls-1');
    const insecure1 = await run(plaintext, 'insecure-1');
    const insecure2 = await run(plaintext, 'insecure-2');
    const tls2 = await run(secure, 'tls-2');
    const cost = { tls: [tls1, tls2], insecure: [insecure1, insecure2] };
    writeFileSync(join(options.outDir, 'tls-cost.md'), `${formatTlsCost(cost, true)}\n`);
    return cost;
  } finally {
    useTransport(secure);
    if (before === undefined) delete process.env.HEDGE_INSECURE;
    else process.env.HEDGE_INSECURE = before;
  }
}

const fixed = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(v < 10 ? 2 : 1));
const ratio = (a: number | undefined, b: number | undefined) =>
  a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)} ×` : '–';

/** The mean over the runs of `pick` of a configuration's fault-free run (undefined if one lacks it). */
function meanOf(
  summaries: BenchSummary[],
  config: string,
  runs: (s: BenchSummary) => RunSummary[],
  pick: (r: RunSummary) => number,
): number | undefined {
  const values = summaries.map((s) => runs(s).find((r) => r.config === config && r.fault === 'none'));
  if (values.some((v) => v === undefined)) return undefined;
  return values.reduce((sum, r) => sum + pick(r as RunSummary), 0) / values.length;
}

/** Per configuration: p50 of the fault-free open-loop runs and closed-loop capacity, with TLS and without. */
export function formatTlsCost({ tls, insecure }: TlsCost, markdown = false): string {
  const first = tls[0] as BenchSummary;
  const configs = [...new Set([...first.runs, ...first.capacity].map((r) => r.config))];
  const header = [
    'configuration',
    'p50 ms TLS',
    'p50 ms plaintext',
    'p50 TLS/plaintext',
    'capacity req/s TLS',
    'capacity req/s plaintext',
    'capacity TLS/plaintext',
  ];
  const p50 = (r: RunSummary) => r.latency_ms.p50;
  const rps = (r: RunSummary) => r.throughput_rps;
  const rows = configs.map((config) => {
    const [a, b] = [meanOf(tls, config, (s) => s.runs, p50), meanOf(insecure, config, (s) => s.runs, p50)];
    const [ca, cb] = [
      meanOf(tls, config, (s) => s.capacity, rps),
      meanOf(insecure, config, (s) => s.capacity, rps),
    ];
    return [config, fixed(a), fixed(b), ratio(a, b), fixed(ca), fixed(cb), ratio(ca, cb)];
  });
  const title =
    'The cost of mutual TLS (one run: TLS, plaintext, plaintext, TLS; each figure the mean of its two runs; ' +
    `${first.load}; capacity: closed loop):`;
  if (!markdown) return `${title}\n${textTable(header, rows, [0])}\n`;
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [
    `# ${title}`,
    '',
    '```',
    first.command,
    '```',
    '',
    line(header),
    line(header.map((_, i) => (i === 0 ? '---' : '---:'))),
    ...rows.map(line),
  ].join('\n');
}
