import { Command } from 'commander';
import {
  choiceListOption,
  choiceOption,
  defaulted,
  durationOption,
  heartbeatArgs,
  intListOption,
  intOption,
  positiveDurationOption,
} from '../common/cli-options.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import {
  DATA_DIR,
  DATABASE_URL,
  FEED_ADDRESS,
  HEARTBEAT_INTERVAL,
  HEARTBEAT_TIMEOUT,
  MANAGER_ADDRESS,
  POOL,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  type Setting,
  SPARES,
  settingOption,
} from '../common/settings.js';
import { DELAY_SCOPES, type DelayScope } from '../fault-injector/host-delay-rules.js';
import {
  CONFIG_NAMES,
  type ConfigName,
  DEFAULT_FAULT_MODES,
  FAULT_MODES,
  type FaultMode,
  WORKLOAD_CONFIGS,
  type WorkloadBenchConfig,
} from './configurations.js';

/**
 * A benchmark's database: given by flag or $DATABASE_URL, else the embedded
 * server it starts in its own temporary system (its "default"). Never a
 * running system's: a benchmark must not share a database with other work.
 */
const BENCH_DATABASE_URL: Setting<string> = {
  ...DATABASE_URL,
  description: 'use this PostgreSQL server instead of an embedded one',
  runFile: undefined,
  otherwise: 'an embedded one',
};

/**
 * Where a benchmark's own system lives: given, else a new temporary directory.
 * Not $HEDGE_DATA_DIR, which names the running system's (a benchmark's
 * database is gigabytes, and `hedge up` owns that directory).
 */
const BENCH_DATA_DIR: Setting<string> = { ...DATA_DIR, env: undefined, default: undefined };

interface ReplicaBenchCliOptions {
  dataDir?: string;
  databaseUrl?: string;
  duration: number;
  warmup: number;
  clients: number[];
  json?: boolean;
}

/** A failed database check is said on stderr and fails the command (its results are printed all the same). */
function reportDatabaseChecks(outcome: { exitCode: 0 | 1; messages: string[] }): void {
  for (const m of outcome.messages) process.stderr.write(`hedge: ${m}\n`);
  process.exitCode = outcome.exitCode;
}

export function benchReplicaCommand(): Command {
  return new Command('bench-replica')
    .description(
      'Benchmark the replica itself: buys against one replica, then every buy sent to three replicas at once ' +
        "with dedup 'cache' (untied and tied copies) and with 'abort'; prints latency percentiles, throughput " +
        'and CPU per request by process for each configuration. ' +
        'Starts its own PostgreSQL, feed and replicas.',
    )
    .addOption(
      settingOption({
        ...BENCH_DATA_DIR,
        description: 'where the run keeps its database and logs (default: a new temporary directory)',
      }),
    )
    .addOption(settingOption(BENCH_DATABASE_URL))
    .addOption(
      defaulted(
        '--duration <duration>',
        'measured time per configuration and client count',
        positiveDurationOption,
        '10s',
      ),
    )
    .addOption(
      defaulted('--warmup <duration>', 'unmeasured time before each measurement', durationOption, '2s'),
    )
    .addOption(defaulted('--clients <list>', 'concurrent clients, e.g. 1,16', intListOption(1, 1024), '1,16'))
    .option('--json', 'print the results as JSON')
    .action(async (opts: ReplicaBenchCliOptions) => {
      const { runReplicaBench } = await import('./replica-bench.js');
      const { formatReplicaBench } = await import('./replica-report.js');
      const result = await runReplicaBench({
        dataDir: opts.dataDir,
        databaseUrl: await resolveSetting(BENCH_DATABASE_URL, opts.databaseUrl),
        durationMs: opts.duration,
        warmupMs: opts.warmup,
        clients: opts.clients,
        onProgress: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatReplicaBench(result));
    });
}

interface BenchCliOptions {
  metricsPort?: number;
  metricsHost?: string;
  configs: string[];
  faults: string[];
  spares: number[];
  clients: number;
  duration: number;
  warmup: number;
  faultInterval: number;
  deadline?: number;
  rate: number;
  capacityDuration: number;
  seed: number;
  hangFor: number;
  hosts: number;
  hostDownFor: number;
  hostDelay: number;
  hostDelayScope: DelayScope;
  out?: string;
  dataDir?: string;
  databaseUrl?: string;
  target?: boolean;
  heartbeatInterval?: number;
  heartbeatTimeout?: number;
  pool: number;
  force?: boolean;
  json?: boolean;
  tlsCost?: boolean;
}

export function benchCommand(): Command {
  return withMetricsOptions(new Command('bench'))
    .description(
      'Fault-injection benchmark: for each configuration (single, passive, active-nocache, active, hedged-2, deferred) and fault ' +
        '(none, crash, hang; or db-primary, the database primary SIGKILLed, with --target on `hedge up --ha`; or ' +
        'partition and host-crash, a whole simulated host lost, or delay, its connections delayed, with --hosts), C clients ' +
        'trade for D seconds after a warm-up while a replica (or the primary) is crashed or hung every interval; records every request and fault, checks the database for duplicates after each run, and writes ' +
        'requests.ndjson, faults.ndjson, summary.json, report.md and SVG plots to a results folder. Starts its own ' +
        'system unless --target.',
    )
    .addOption(
      defaulted(
        '--configs <list>',
        'configurations to run',
        choiceListOption(CONFIG_NAMES, 'configuration'),
        CONFIG_NAMES.join(','),
      ),
    )
    .addOption(
      defaulted(
        '--faults <list>',
        'fault modes to run each configuration under',
        choiceListOption(FAULT_MODES, 'fault'),
        DEFAULT_FAULT_MODES.join(','),
      ),
    )
    .addOption(
      defaulted(
        '--spares <list>',
        "warm spares of each configuration's manager: every configuration runs once per value, e.g. 0,1",
        intListOption(0, 16),
        '0,1',
      ),
    )
    .option('--clients <n>', 'concurrent clients, each with one call in flight', intOption(1, 1024), 16)
    .addOption(defaulted('--duration <duration>', 'measured time per run', positiveDurationOption, '20s'))
    .addOption(defaulted('--warmup <duration>', 'unmeasured time before each run', durationOption, '3s'))
    .addOption(
      defaulted(
        '--fault-interval <duration>',
        'time between injected faults; the seed system used 15 s',
        positiveDurationOption,
        '10s',
      ),
    )
    .option(
      '--rate <n>',
      'requests/s offered by all clients together (open loop: latency counts from the scheduled time); 0: closed loop',
      intOption(0, 100_000),
      200,
    )
    .addOption(
      defaulted(
        '--capacity-duration <duration>',
        'length of a closed-loop, fault-free run per configuration measuring the most it sustains (0: skip)',
        durationOption,
        '10s',
      ),
    )
    .option('--seed <n>', 'seed of the fault targets and the price walk', intOption(0, 2 ** 32 - 1), 1)
    .option(
      '--deadline <duration>',
      "each call's deadline (default: the client's, 5s, and up to 30s in all while the replicas answer that the database is failing over)",
      positiveDurationOption,
    )
    .addOption(
      defaulted(
        '--hang-for <duration>',
        'how long a hung replica stays stopped if nobody kills it',
        positiveDurationOption,
        '5s',
      ),
    )
    .option(
      '--hosts <n>',
      'run the replicas on this many simulated hosts (network namespaces in 198.18.0.0/15, made and removed by the ' +
        'bench; root only), an agent on each; the database, feeds, manager and clients sit on the bridge. 0: one host',
      intOption(0, 16),
      0,
    )
    .addOption(
      defaulted(
        '--host-down-for <duration>',
        'how long a partition cuts a host off or a delay lasts, or a crashed host stays down (silent) before its link is up and its agent starts again',
        positiveDurationOption,
        '5s',
      ),
    )
    .addOption(
      defaulted(
        '--host-delay <duration>',
        'what a delay fault adds to each chunk of the connections it covers (--host-delay-scope: by default those to the host and those it makes), each way (a round trip pays it twice)',
        positiveDurationOption,
        '100ms',
      ),
    )
    .addOption(
      defaulted(
        '--host-delay-scope <scope>',
        'which of the host’s connections a delay covers: all (to it and from it, to the database and feeds) or incoming',
        choiceOption(DELAY_SCOPES),
        'all',
      ),
    )
    .addOption(settingOption({ ...HEARTBEAT_INTERVAL, description: "the managers' heartbeat interval" }))
    .addOption(settingOption({ ...HEARTBEAT_TIMEOUT, description: "the managers' heartbeat timeout" }))
    .addOption(settingOption({ ...POOL, description: "each replica's database connections" }))
    .option(
      '--out <dir>',
      'results folder (default: bench-results/<timestamp>); one that holds files is refused before anything starts',
    )
    .option('--force', 'write into an --out that holds files (an earlier run’s are overwritten)')
    .addOption(
      settingOption({
        ...BENCH_DATA_DIR,
        description:
          'where a self-started system keeps its database and logs (default: a temporary directory; ' +
          'with --target, the running system’s: $HEDGE_DATA_DIR, else .hedge)',
      }),
    )
    .addOption(
      settingOption({
        ...BENCH_DATABASE_URL,
        description: 'PostgreSQL for a self-started system, or of the --target system',
        otherwise: "an embedded one, or the --target system's",
      }),
    )
    .option(
      '--target',
      'run against the system `hedge up` is running (passive, active, hedged-2, deferred only)',
    )
    .option('--json', 'print the summary as JSON on stdout')
    .option(
      '--tls-cost',
      'run everything four times in one run, TLS, --insecure, --insecure, TLS, and compare p50 and capacity ' +
        '(results in <out>/tls-1, insecure-1, insecure-2, tls-2 and <out>/tls-cost.md)',
    )
    .action(async (opts: BenchCliOptions) => {
      const { runBench } = await import('./run-bench.js');
      const { formatBenchSummary } = await import('./report.js');
      const { databaseCheckOutcome } = await import('./database-check.js');
      const dataDir = resolveDataDir(opts.dataDir);
      const target = opts.target
        ? {
            // bench has no --manager or --feed: the running system's, found through --data-dir.
            manager: await requireSetting(MANAGER_ADDRESS, undefined, { dataDir, instead: '--data-dir' }),
            feed: await requireSetting(FEED_ADDRESS, undefined, { dataDir, instead: '--data-dir' }),
            databaseUrl: await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir }),
          }
        : undefined;
      const outDir = opts.out ?? `bench-results/${new Date().toISOString().replace(/[:.]/g, '-')}`;
      // The client library's figures (wins, losses, failures, fail-overs per replica), while this runs.
      const metrics = await serveMetricsIfAsked(opts, undefined);
      if (metrics) process.stderr.write(`client metrics: ${metrics.url}\n`);
      const benchOptions = {
        configs: opts.configs as ConfigName[],
        faults: opts.faults as FaultMode[],
        spares: opts.spares,
        clients: opts.clients,
        durationMs: opts.duration,
        warmupMs: opts.warmup,
        faultIntervalMs: opts.faultInterval,
        deadlineMs: opts.deadline,
        ratePerSecond: opts.rate > 0 ? opts.rate : undefined,
        capacityDurationMs: opts.capacityDuration,
        seed: opts.seed,
        hangMs: opts.hangFor,
        hosts: opts.hosts,
        hostDownMs: opts.hostDownFor,
        hostDelayMs: opts.hostDelay,
        hostDelayScope: opts.hostDelayScope,
        outDir,
        force: opts.force ?? false,
        command: `npx hedge ${process.argv.slice(2).join(' ')}`,
        dataDir: opts.target ? undefined : opts.dataDir,
        databaseUrl: opts.target ? undefined : await resolveSetting(BENCH_DATABASE_URL, opts.databaseUrl),
        target,
        managerArgs: [...heartbeatArgs(opts), '--pool', String(opts.pool)],
      };
      const { runTlsCost, formatTlsCost } = await import('./tls-cost.js');
      const cost = opts.tlsCost ? await runTlsCost(benchOptions) : undefined;
      const summary = cost?.tls[0] ?? (await runBench(benchOptions));
      const checked = cost ? [...cost.tls, ...cost.insecure] : [summary];
      if (opts.json)
        process.stdout.write(
          `${JSON.stringify({ machine: summary.machine, runs: summary.runs, ...(cost ? { tls: cost.tls.map((t) => t.runs), insecure: cost.insecure.map((t) => t.runs) } : {}) })}\n`,
        );
      else process.stdout.write(formatBenchSummary(summary, outDir));
      await metrics?.close();
      if (cost && !opts.json) process.stdout.write(`\n${formatTlsCost(cost)}`);
      reportDatabaseChecks(
        databaseCheckOutcome(
          checked
            .flatMap((s) => [...s.capacity.map((r) => ({ ...r, fault: 'capacity' })), ...s.runs])
            .map((r) => ({
              run: `${r.config} · ${r.fault}`,
              duplicates: r.duplicates,
              violations: r.violations,
            })),
        ),
      );
    });
}

export function benchIdleCommand(): Command {
  return new Command('bench-idle')
    .description(
      'Idle cost: start `hedge up` on a temporary data directory, let it settle, then measure the CPU every process ' +
        'it started (PostgreSQL included) uses doing nothing, from /proc/<pid>/stat; prints the share of one core ' +
        'per process and in total, then stops it.',
    )
    .addOption(defaulted('--duration <duration>', 'measured time', positiveDurationOption, '30s'))
    .addOption(
      defaulted(
        '--settle <duration>',
        "time after `hedge up` is ready before measuring (V8's memory reducer runs its full collections about 20 s after a process starts: start-up, not rest)",
        durationOption,
        '30s',
      ),
    )
    .addOption(settingOption({ ...SPARES, description: "the manager's warm spares" }))
    .addOption(settingOption({ ...HEARTBEAT_INTERVAL, description: "the manager's heartbeat interval" }))
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        duration: number;
        settle: number;
        spares: number;
        heartbeatInterval: number;
        json?: boolean;
      }) => {
        const { measureIdleCost } = await import('./idle-cost.js');
        const { textTable } = await import('../ui/text-table.js');
        const result = await measureIdleCost({
          durationMs: opts.duration,
          settleMs: opts.settle,
          upArgs: ['--spares', String(opts.spares), ...heartbeatArgs(opts)],
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const m = result.machine;
        process.stdout.write(
          `hedge bench-idle ${result.up_args.join(' ')} — ${m.cpus} × ${m.cpu_model}, Node ${m.node}; ` +
            `${result.duration_s} s at rest\n\n${textTable(
              ['process', 'count', '% of one core'],
              [
                ...result.processes.map((p) => [p.name, p.count, p.percent_of_core.toFixed(2)]),
                [
                  'total',
                  result.processes.reduce((a, p) => a + p.count, 0),
                  result.total_percent_of_core.toFixed(2),
                ],
              ],
              [0],
            )}\n`,
        );
      },
    );
}

export function benchWorkloadCommand(): Command {
  return new Command('bench-workload')
    .argument('[file]', 'the workload file', 'seng468/workloads/100User_testWorkLoad')
    .description(
      'Replay a SEng 468 workload file with a single replica, then three replicas with the passive and with the active ' +
        'client, each on a fresh database (durable commits, the full audit log); print commands/s and check each database.',
    )
    .addOption(
      defaulted(
        '--configs <list>',
        'single, passive, active, deferred',
        choiceListOption(
          WORKLOAD_CONFIGS.map((c) => c.name),
          'configuration',
        ),
        'single,passive,active',
      ),
    )
    .option('--concurrency <n>', 'users replayed at once', intOption(1, 10_000), 100)
    .option(
      '--out <dir>',
      'where the DUMPLOG files go (default: a new bench-results/workload-<time>); one that holds files is ' +
        'refused before anything starts',
    )
    .option('--force', 'write into an --out that holds files (an earlier run’s logs are overwritten)')
    .option('--json', 'print the results as JSON')
    .action(
      async (
        file: string,
        opts: { configs: string[]; concurrency: number; out?: string; force?: boolean; json?: boolean },
      ) => {
        const { runWorkloadBench } = await import('./workload-bench.js');
        const { textTable } = await import('../ui/text-table.js');
        const { databaseCheckOutcome } = await import('./database-check.js');
        // The parser let only known names through.
        const configs = opts.configs.map(
          (name) => WORKLOAD_CONFIGS.find((c) => c.name === name) as WorkloadBenchConfig,
        );
        const result = await runWorkloadBench({
          file,
          configs,
          concurrency: opts.concurrency,
          // A new folder per run: the replay refuses to overwrite an earlier run's log.
          outDir: opts.out ?? `bench-results/workload-${new Date().toISOString().replace(/[:.]/g, '-')}`,
          force: opts.force ?? false,
          onProgress: (line) => process.stderr.write(`${line}\n`),
        });
        reportDatabaseChecks(
          databaseCheckOutcome(
            result.rows.map((r) => ({
              run: r.config,
              duplicates: r.duplicate_effects,
              violations: r.violations,
            })),
          ),
        );
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
          return;
        }
        const m = result.machine;
        process.stdout.write(
          `hedge bench-workload ${file} — ${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, Node ${m.node}\n\n${textTable(
            [
              'configuration',
              'replicas',
              'commands',
              'seconds',
              'commands/s',
              'sign-in s',
              'refused',
              'infra failures',
              'duplicates',
              'violations',
            ],
            result.rows.map((r) => [
              r.config,
              r.replicas,
              r.commands,
              r.seconds,
              r.commands_per_s,
              r.setup_seconds,
              r.errors,
              r.infra_failures,
              r.duplicate_effects,
              r.violations,
            ]),
          )}\n`,
        );
      },
    );
}
