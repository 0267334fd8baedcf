import { Command } from 'commander';
import { durationOption, intOption, listOption } from '../common/cli-options.js';

interface ReplicaBenchCliOptions {
  dataDir?: string;
  databaseUrl?: string;
  duration: number;
  warmup: number;
  clients: string[];
  json?: boolean;
}

export function benchReplicaCommand(): Command {
  return new Command('bench-replica')
    .description(
      'Benchmark the replica itself: buys against one replica, then every buy sent to three replicas at once ' +
        "with dedup 'cache' and with 'abort'; prints latency percentiles and throughput per configuration. " +
        'Starts its own PostgreSQL, feed and replicas.',
    )
    .option(
      '--data-dir <dir>',
      'where the run keeps its database and logs (default: a new temporary directory)',
    )
    .option('--database-url <url>', 'use this PostgreSQL server instead of an embedded one')
    .option(
      '--duration <duration>',
      'measured time per configuration and client count',
      durationOption,
      10_000,
    )
    .option('--warmup <duration>', 'unmeasured time before each measurement', durationOption, 2_000)
    .option('--clients <list>', 'concurrent clients, e.g. 1,16', listOption, ['1', '16'])
    .option('--json', 'print the results as JSON')
    .action(async (opts: ReplicaBenchCliOptions) => {
      const { runReplicaBench } = await import('./replica-bench.js');
      const { formatReplicaBench } = await import('./replica-report.js');
      const result = await runReplicaBench({
        dataDir: opts.dataDir,
        databaseUrl: opts.databaseUrl || undefined,
        durationMs: opts.duration,
        warmupMs: opts.warmup,
        clients: opts.clients.map(intOption(1, 1024)),
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatReplicaBench(result));
    });
}
