import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fetchStatus, fetchStatusFrom, managerClient } from '../client/manager-client.js';
import { QuoteSource } from '../client/quote-source.js';
import { ReplicatedClient } from '../client/replicated-client.js';
import { TradingSession } from '../client/trading-session.js';
import { createPool } from '../common/database.js';
import { inDataDir } from '../common/paths.js';
import { ProcessGroup } from '../common/process-group.js';
import { verifyDatabase } from '../common/verify-database.js';
import type { DelayScope } from '../fault-injector/host-delay-rules.js';
import { servingCount, spareCount } from '../ui/status-view.js';
import { faultWindows, overlapsFault, type RunSummary, summarizeRun } from './analysis.js';
import { type BenchHosts, createBenchHosts } from './bench-hosts.js';
import { startBenchManager } from './bench-manager.js';
import { benchPlots, type PlottedRun } from './bench-plots.js';
import { type BenchConfig, CONFIGS, type ConfigName, type FaultMode } from './configurations.js';
import { startCpuHogs } from './cpu-hogs.js';
import { FaultTracker } from './fault-tracker.js';
import { generateLoad, type RequestRecord } from './load-generator.js';
import { describeMachine } from './machine.js';
import { type CpuByRole, startCpuCount } from './process-cpu.js';
import { Progress } from './progress.js';
import { type BenchSummary, renderReport } from './report.js';
import { checkResultsFolder } from './results-folder.js';

export interface BenchOptions {
  configs: ConfigName[];
  faults: FaultMode[];
  /** Warm spares each self-started manager keeps: every configuration runs once per value. */
  spares: number[];
  clients: number;
  durationMs: number;
  warmupMs: number;
  faultIntervalMs: number;
  /** Each call's deadline (default: the replicated client's, 5 s). */
  deadlineMs?: number;
  /** Offered load of the measured runs, all clients together (open loop); undefined: closed loop. */
  ratePerSecond?: number;
  /** Length of each configuration's closed-loop capacity run, fault-free (0: none). */
  capacityDurationMs: number;
  seed: number;
  hangMs: number;
  /** Simulated hosts (network namespaces, as root) the replicas run on, an agent each; 0: none, one host. */
  hosts?: number;
  /** How long a partitioned host is cut off, a delay lasts, or a crashed one down before its agent starts again. */
  hostDownMs?: number;
  /** What a delay adds to each chunk of a host's connections, each way, and to which. */
  hostDelayMs?: number;
  hostDelayScope?: DelayScope;
  outDir: string;
  /** Write into an outDir that already holds files (an earlier run's); without it the bench refuses to start. */
  force?: boolean;
  /** The command line, for the report. */
  command: string;
  /** Where a self-started system keeps its database and logs (default: a new temporary directory). */
  dataDir?: string;
  /** Use this PostgreSQL server for a self-started system. */
  databaseUrl?: string;
  /** Run against an already running system instead (client-side configurations only). */
  target?: { manager: string; feed: string; databaseUrl: string };
  /** Extra manager options for self-started systems (heartbeat settings). */
  managerArgs?: string[];
  progress?: NodeJS.WriteStream;
}

const SYMBOL = 'ABC';

/** Injections at the middle of each interval of the measured time, none in its last second. */
export function faultOffsets(durationMs: number, intervalMs: number): number[] {
  const offsets: number[] = [];
  for (let t = intervalMs / 2; t < durationMs - 1_000; t += intervalMs) offsets.push(Math.round(t));
  return offsets;
}

/** `--duration` and `--fault-interval` as the options spell them, for messages. */
const seconds = (ms: number) => `${ms / 1000}s`;

/**
 * Refuses, before anything starts, options under which a run could not mean
 * what its report would say: above all a fault run whose measured time holds
 * no injection.
 */
export function checkBenchOptions(options: BenchOptions): void {
  const configs = options.target ? options.configs.filter((c) => CONFIGS[c].clientSideOnly) : options.configs;
  if (configs.length === 0) {
    throw new Error(
      `--target runs only the client-side configurations (${Object.values(CONFIGS)
        .filter((c) => c.clientSideOnly)
        .map((c) => c.name)
        .join(', ')}); --configs has none of them`,
    );
  }
  const hostFaults = options.faults.filter((f) => f === 'partition' || f === 'host-crash' || f === 'delay');
  if (hostFaults.length > 0 && !(options.hosts && options.hosts >= 2)) {
    throw new Error(
      `--faults ${hostFaults.join(',')} needs hosts to lose: --hosts 3 (simulated hosts, network namespaces, as root)`,
    );
  }
  if (options.hosts && options.target)
    throw new Error('--hosts starts its own system; it cannot be used with --target');
  if (options.hosts && process.getuid?.() !== 0)
    throw new Error('--hosts needs root (it makes network namespaces, veth pairs and a bridge)');
  if (hostFaults.length > 0 && (options.hostDownMs ?? 0) >= options.faultIntervalMs) {
    throw new Error(
      `--host-down-for ${seconds(options.hostDownMs ?? 0)} must be shorter than --fault-interval ${seconds(options.faultIntervalMs)}: a host must be back before the next fault`,
    );
  }
  // `single` runs fault-free whatever --faults says.
  const faultRuns =
    configs.some((c) => c !== 'single') &&
    options.faults.some(
      (f) => f === 'crash' || f === 'hang' || f === 'partition' || f === 'host-crash' || f === 'delay',
    );
  if (faultRuns && faultOffsets(options.durationMs, options.faultIntervalMs).length === 0) {
    const { durationMs: d, faultIntervalMs: i } = options;
    throw new Error(
      `--fault-interval ${seconds(i)} injects no fault in --duration ${seconds(d)}: the first fault comes half an ` +
        `interval into the measured time and none in its last second, so ${
          d > 1_000
            ? `use a --fault-interval under ${seconds(2 * (d - 1_000))} or a --duration over ${seconds(1_000 + i / 2)}`
            : `a fault run needs a --duration over ${seconds(1_000 + i / 2)}`
        } (or --faults none)`,
    );
  }
}

/**
 * `hedge bench`: for each configuration, start its manager and replicas (or use
 * a running system), then for each fault mode run C clients for D seconds after
 * a warm-up while the fault injector works, follow every fault to its recovery,
 * verify the database, and write the results folder.
 */
export async function runBench(options: BenchOptions): Promise<BenchSummary> {
  checkBenchOptions(options);
  // Before any process starts: an --out that holds an earlier run, or cannot be made, stops the bench here.
  checkResultsFolder(options.outDir, options.force ?? false);
  mkdirSync(options.outDir, { recursive: true });
  if (options.target) return bench(options, undefined);
  return inDataDir('hedge-bench-', options.dataDir, (dataDir) => bench(options, dataDir));
}

/**
 * The bench's two stock feeds (one seed, a key each), their addresses as a --feed
 * list. A feed that dies (the `feed` fault) is started again on its port.
 */
async function startBenchFeeds(
  group: ProcessGroup,
  dataDirArgs: string[],
  seed: number,
  hosts: BenchHosts | undefined,
): Promise<string> {
  const host = hosts?.gateway ?? '127.0.0.1';
  const args = (name: string, port: number) => [
    'feed',
    ...dataDirArgs,
    '--name',
    name,
    '--host',
    host,
    '--port',
    String(port),
    '--seed',
    String(seed),
  ];
  const env = hosts?.rootEnv ?? {};
  const ports = new Map<string, number>();
  for (const name of ['feed', 'feed-2']) {
    const address = String((await group.start(name, args(name, 0), env)).address);
    ports.set(name, Number(address.slice(address.lastIndexOf(':') + 1)));
  }
  group.onUnexpectedExit((name) => {
    const port = ports.get(name);
    if (port !== undefined) void group.start(name, args(name, port), env).catch(() => {});
  });
  return [...ports.values()].map((p) => `${host}:${p}`).join(',');
}

/** The bench with its own system in `dataDir`, or against `options.target` without one. */
async function bench(options: BenchOptions, dataDir: string | undefined): Promise<BenchSummary> {
  const requestsOut = createWriteStream(join(options.outDir, 'requests.ndjson'));
  const faultsOut = createWriteStream(join(options.outDir, 'faults.ndjson'));
  const progress = new Progress(options.progress ?? process.stderr);
  const group = dataDir ? new ProcessGroup(join(dataDir, 'logs')) : undefined;
  // Made before any process starts, removed after the last has stopped (and on exit or a signal).
  const hosts = dataDir && options.hosts ? createBenchHosts(options.hosts, dataDir) : undefined;
  let agents: string | undefined;
  const runs: PlottedRun[] = [];
  const capacity: RunSummary[] = [];
  let postgres = 'PostgreSQL';
  try {
    let databaseUrl: string;
    let feedAddress: string;
    if (options.target) {
      ({ databaseUrl, feed: feedAddress } = options.target);
    } else {
      const system = group as ProcessGroup;
      const dataDirArgs = ['--data-dir', dataDir as string];
      const dbHost = hosts ? ['--host', hosts.gateway] : [];
      databaseUrl =
        options.databaseUrl ??
        String((await system.start('db', ['db', ...dataDirArgs, ...dbHost])).databaseUrl);
      feedAddress = await startBenchFeeds(system, dataDirArgs, options.seed, hosts);
      if (hosts) agents = await hosts.startAgents(system, databaseUrl);
    }
    const pool = createPool(databaseUrl, { max: 2, applicationName: 'hedge-bench' });
    postgres =
      (await pool.query<{ v: string }>("SELECT split_part(version(), ' on ', 1) AS v")).rows[0]?.v ??
      postgres;
    try {
      for (const name of options.configs) {
        const config = CONFIGS[name];
        if (options.target && !config.clientSideOnly) continue;
        // `single` runs fault-free only: spares change nothing there. A --target system's are its own.
        const sparesList = options.target ? [null] : name === 'single' ? [0] : options.spares;
        let capacityRps: number | undefined;
        for (const spares of sparesList) {
          const managerName = `manager-${name}-${spares}`;
          const manager = options.target
            ? options.target.manager
            : await startBenchManager(group as ProcessGroup, {
                name: managerName,
                dataDir: dataDir as string,
                databaseUrl,
                replicas: config.replicas,
                minimum: Math.min(2, config.replicas),
                args: [
                  '--dedup',
                  config.dedup,
                  '--spares',
                  String(spares),
                  ...(hosts && agents ? ['--host', hosts.gateway, '--agents', agents] : []),
                  ...(options.managerArgs ?? []),
                ],
                env: hosts?.rootEnv,
              });
          const faults = name === 'single' ? (['none'] as FaultMode[]) : options.faults;
          const bench = await prepare(config, manager, feedAddress, options);
          try {
            const context = {
              bench,
              dataDir,
              restartHost:
                hosts && group
                  ? (host: string) =>
                      void hosts.restartAgent(group, databaseUrl, host).catch((err: Error) => {
                        // The runs after this have one host fewer; the log says so.
                        process.stderr.write(
                          `hedge bench: host ${host}'s agent did not start again: ${err.message}\n`,
                        );
                      })
                  : undefined,
              pool,
              databaseUrl,
              options,
              progress,
              requestsOut,
              faultsOut,
              spares,
            };
            // Capacity once per configuration: spares are out of the view and change no throughput.
            if (options.capacityDurationMs > 0 && capacityRps === undefined) {
              const measured = (await measure(context, 'none', undefined, options.capacityDurationMs))
                .summary;
              capacity.push(measured);
              capacityRps = measured.throughput_rps;
            }
            for (const fault of faults) {
              const rate = fault === 'overload' ? overloadRate(capacityRps, options) : options.ratePerSecond;
              runs.push(await measure(context, fault, rate, options.durationMs));
            }
          } finally {
            bench.close();
            if (!options.target) await (group as ProcessGroup).stopOne(managerName);
          }
        }
      }
    } finally {
      await pool.end();
    }
  } finally {
    progress.stop();
    await group?.stop();
    hosts?.teardown();
    await Promise.all([requestsOut, faultsOut].map((s) => new Promise((r) => s.end(r))));
  }

  const summary: BenchSummary = {
    machine: { ...describeMachine(), postgres },
    command: options.command,
    started_at: new Date().toISOString(),
    load: options.ratePerSecond
      ? `open loop: ${options.ratePerSecond} requests/s offered by ${options.clients} clients together`
      : `closed loop: ${options.clients} clients, each sending as soon as its previous call returns`,
    runs: runs.map((r) => r.summary),
    capacity,
  };
  writeFileSync(join(options.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'report.md'), renderReport(summary));
  const plots = benchPlots(runs, options.clients);
  writeFileSync(join(options.outDir, 'latency-over-time.svg'), plots.timeline);
  writeFileSync(join(options.outDir, 'latency-cdf.svg'), plots.cdf);
  return summary;
}

/**
 * Overload's offered load: half as much again as the configuration's measured
 * capacity, else three times --rate; closed loop (as much as the clients can
 * send) when neither is known.
 */
export function overloadRate(capacityRps: number | undefined, options: BenchOptions): number | undefined {
  if (capacityRps !== undefined && capacityRps > 0) return Math.ceil(capacityRps * 1.5);
  return options.ratePerSecond ? options.ratePerSecond * 3 : undefined;
}

/** Every replica serving, and every warm spare ready: a fault run's first fault has its spare. */
async function waitForFullStrength(managerAddress: string, replicas: number): Promise<void> {
  const client = managerClient(managerAddress);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await fetchStatus(client).catch(() => undefined);
      const serving = status ? servingCount(status) : 0;
      if (
        status &&
        serving >= Math.min(replicas, status.target ?? replicas) &&
        spareCount(status) >= status.spares
      )
        return;
      if (Date.now() > deadline)
        throw new Error(`the manager at ${managerAddress} never had ${replicas} replicas serving`);
      await delay(100);
    }
  } finally {
    client.close();
  }
}

async function openSessions(
  client: ReplicatedClient,
  config: string,
  count: number,
): Promise<TradingSession[]> {
  const stamp = Date.now().toString(36);
  const open = async (i: number) => {
    const session = new TradingSession(client);
    const username = `bench_${config.replace('-', '')}_${stamp}_${i}`.slice(0, 32);
    await session.register(username, 'benchmark password');
    await session.deposit('1000000000.00');
    return session;
  };
  // A few at a time: each registration is a scrypt, and a replica runs two at once
  // (passwords.ts); sixteen at once on a busy machine outlast a passive attempt's timeout.
  const sessions: TradingSession[] = [];
  for (let i = 0; i < count; i += SIGN_UP_BATCH)
    sessions.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(SIGN_UP_BATCH, count - i) }, (_, k) => open(i + k)),
      )),
    );
  return sessions;
}

const SIGN_UP_BATCH = 4;

interface Prepared {
  config: BenchConfig;
  manager: string;
  client: ReplicatedClient;
  quotes: QuoteSource;
  sessions: TradingSession[];
  close(): void;
}

/** A configuration's client and logged-in sessions, shared by all its runs. */
async function prepare(
  config: BenchConfig,
  manager: string,
  feed: string,
  options: BenchOptions,
): Promise<Prepared> {
  await waitForFullStrength(manager, config.replicas);
  const client = await ReplicatedClient.connect({
    manager,
    mode: config.mode,
    hedgeSize: config.hedgeSize,
    ...(options.deadlineMs ? { deadlineMs: options.deadlineMs } : {}),
  });
  const quotes = new QuoteSource(feed);
  const close = () => {
    quotes.close();
    client.close();
  };
  try {
    await quotes.follow([SYMBOL]);
    return {
      config,
      manager,
      client,
      quotes,
      sessions: await openSessions(client, config.name, options.clients),
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}

interface MeasureContext {
  bench: Prepared;
  /** The bench's own system's data directory (none against --target): where its feeds' run files are. */
  dataDir?: string;
  pool: ReturnType<typeof createPool>;
  databaseUrl: string;
  options: BenchOptions;
  progress: Progress;
  requestsOut: NodeJS.WritableStream;
  faultsOut: NodeJS.WritableStream;
  /** The manager's warm spares (null: a --target system's). */
  spares: number | null;
  /** Brings a crashed simulated host's agent back (`--hosts`). */
  restartHost?: (host: string) => void;
}

async function managerFaults(manager: string): Promise<number> {
  return Number((await fetchStatusFrom(manager)).faults);
}

/**
 * One run of `durationMs`: the load (open loop at `rate`; closed loop, for
 * capacity, without), the faults followed to their recovery, then `hedge verify`.
 */
async function measure(
  context: MeasureContext,
  fault: FaultMode,
  rate: number | undefined,
  durationMs: number,
): Promise<PlottedRun> {
  const { bench, options, progress } = context;
  const { config, manager } = bench;
  await waitForFullStrength(manager, config.replicas);
  const faultsBefore = await managerFaults(manager);
  const tracker =
    fault === 'none' || fault === 'overload'
      ? undefined
      : new FaultTracker({
          manager,
          kind: fault,
          atMs: faultOffsets(durationMs, options.faultIntervalMs),
          seed: options.seed,
          hangMs: options.hangMs,
          hostDownMs: options.hostDownMs,
          hostDelayMs: options.hostDelayMs,
          hostDelayScope: options.hostDelayScope,
          restartHost: context.restartHost,
          databaseUrl: context.databaseUrl,
          dataDir: context.dataDir,
        });
  let cpuCount: (() => CpuByRole) | undefined;
  const startTimer = setTimeout(() => {
    tracker?.start();
    cpuCount = startCpuCount();
  }, options.warmupMs);
  const records: RequestRecord[] = [];
  const spares =
    context.spares === null ? '' : ` · ${context.spares} spare${context.spares === 1 ? '' : 's'}`;
  progress.start(
    `[${config.name} · ${fault}${spares}${rate ? ` · ${rate}/s` : ' · closed loop'}]`,
    options.warmupMs,
    durationMs,
  );
  // Overload: two busy loops compete with the system for the (two) cores for the whole run.
  const hogs = fault === 'overload' ? startCpuHogs(2) : undefined;
  let window: Awaited<ReturnType<typeof generateLoad>>;
  try {
    window = await generateLoad(bench.sessions, bench.quotes, {
      warmupMs: options.warmupMs,
      durationMs,
      ratePerSecond: rate,
      symbol: SYMBOL,
      onRecord: (r) => {
        records.push(r);
        progress.record(r.latency_ms);
      },
    });
  } finally {
    await hogs?.stop();
  }
  const cpuMs = cpuCount?.();
  progress.stop();
  clearTimeout(startTimer);
  const faults = (await tracker?.finish()) ?? [];
  const report = await verifyDatabase(context.pool);
  const lostAcknowledged = await lostAcknowledgedCount(
    context.pool,
    records.filter((r) => r.outcome === 'ok').map((r) => r.request_id),
  );
  // A database or feed fault is no replica fault: the manager counts only the latter.
  // A host fault is a fault of each replica that served there.
  const replicaFaults = faults
    .filter((f) => f.kind !== 'db-primary' && f.kind !== 'feed')
    .reduce((n, f) => n + (f.casualties?.length ?? 1), 0);
  const spurious = (await managerFaults(manager)) - faultsBefore - replicaFaults;
  const windows = faultWindows(faults);
  const load = rate ? `open@${rate}` : 'closed';
  for (const r of records) {
    context.requestsOut.write(
      `${JSON.stringify({ config: config.name, fault, load, ...r, fault_in_flight: overlapsFault(r, windows) })}\n`,
    );
  }
  for (const f of faults) context.faultsOut.write(`${JSON.stringify({ config: config.name, ...f })}\n`);
  const summary = summarizeRun({
    config: config.name,
    fault,
    spares: context.spares,
    clients: options.clients,
    durationMs,
    records,
    faults,
    duplicates: report.duplicate_effects,
    lostAcknowledged,
    violations: report.violations.length,
    offeredRps: rate ?? null,
    spuriousFaults: spurious,
    cpuMs,
  });
  const answered = records.filter((r) => r.outcome !== 'failed');
  return {
    summary,
    panel: {
      title: `${config.name} · ${fault}`,
      fromMs: window.measuredFromMs,
      toMs: window.measuredToMs,
      points: answered.map((r) => ({ atMs: r.start_ms, latencyMs: r.latency_ms })),
      faults: faults.map((f) => ({ injectedMs: f.injected_at_ms, recoveredMs: f.recovered_at_ms })),
    },
    latencies: answered.map((r) => r.latency_ms),
  };
}

/**
 * Requests a client saw answered OK whose request-log entry is missing: an
 * acknowledgement the database lost (a primary that died with a commit no
 * standby had). Must be 0.
 */
async function lostAcknowledgedCount(
  pool: ReturnType<typeof createPool>,
  requestIds: string[],
): Promise<number> {
  if (requestIds.length === 0) return 0;
  const { rows } = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM request_log WHERE request_id = ANY($1::uuid[])',
    [requestIds],
  );
  return requestIds.length - (rows[0]?.n ?? 0);
}
