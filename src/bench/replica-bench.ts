import { join } from 'node:path';
import { type ClientUnaryCall, Metadata, type ServiceError } from '@grpc/grpc-js';
import { QuoteSource } from '../client/quote-source.js';
import type { DedupStrategy } from '../common/dedup-strategy.js';
import { uuidv7 } from '../common/ids.js';
import { inDataDir } from '../common/paths.js';
import { ProcessGroup } from '../common/process-group.js';
import { hedgeProto } from '../common/proto.js';
import { deadlineAfter, invoke } from '../common/rpc.js';
import { newSessionToken } from '../common/session-token.js';
import { replicaArgs } from '../common/settings.js';
import { TIED_KEY } from '../common/tied-copies.js';
import type { SignedQuote__Output } from '../gen/hedge/v1/SignedQuote.js';
import type { TradingClient } from '../gen/hedge/v1/Trading.js';
import { channelCredentials } from '../tls/transport.js';
import { describeMachine } from './machine.js';
import { type CpuByRole, startCpuCount } from './process-cpu.js';
import { type LatencySummary, round, roundSummary, summarize } from './stats.js';

export interface ReplicaBenchOptions {
  /** Where the benchmark's database, feed key and logs live (default: a new temporary directory). */
  dataDir?: string;
  databaseUrl?: string;
  durationMs: number;
  warmupMs: number;
  clients: number[];
  onProgress?: (line: string) => void;
}

export interface ReplicaBenchRow {
  config: string;
  replicas: number;
  copies: number;
  dedup: DedupStrategy;
  clients: number;
  requests: number;
  failed: number;
  throughput_rps: number;
  latency_ms: LatencySummary;
  /** µs of CPU per answered request in the measured time, by process (process-cpu.ts); the rest: db, feed. */
  cpu_us_per_request: { client: number; replicas: number; postgres: number; rest: number; total: number };
}

interface Phase {
  config: string;
  replicas: number;
  dedup: DedupStrategy;
  /** The copies carry the tied mark (src/common/tied-copies.ts), as the active client's do. */
  tied?: boolean;
}

/**
 * One replica; then three, every request sent to all three (the active client's load),
 * under each strategy, and with the copies tied.
 */
const PHASES: Phase[] = [
  { config: 'single', replicas: 1, dedup: 'cache' },
  { config: '3 copies, cache', replicas: 3, dedup: 'cache' },
  { config: '3 copies, cache, tied', replicas: 3, dedup: 'cache', tied: true },
  { config: '3 copies, abort', replicas: 3, dedup: 'abort' },
];

const SYMBOL = 'ABC';

/**
 * Drives buys at the replica level: C clients in closed loops, each buy sent to
 * every replica of the phase with one request id; the first answer counts and
 * the other copies are cancelled, as the active client does. All phases run in
 * one invocation, on one machine, so they compare as ratios.
 */
export function runReplicaBench(options: ReplicaBenchOptions) {
  return inDataDir('hedge-bench-replica-', options.dataDir, (dataDir) => replicaBench(options, dataDir));
}

async function replicaBench(options: ReplicaBenchOptions, dataDir: string) {
  const group = new ProcessGroup(join(dataDir, 'logs'));
  const dataDirArgs = ['--data-dir', dataDir];
  const rows: ReplicaBenchRow[] = [];
  let copies: CopyCost[] = [];
  try {
    const databaseUrl =
      options.databaseUrl ?? String((await group.start('db', ['db', ...dataDirArgs])).databaseUrl);
    const feed = await group.start('feed', ['feed', ...dataDirArgs, '--mode', 'fixed', '--symbols', SYMBOL]);
    const quotes = new QuoteSource(String(feed.address));
    await quotes.follow([SYMBOL]);
    try {
      for (const phase of PHASES) {
        const names = Array.from(
          { length: phase.replicas },
          (_, i) => `replica-${phase.dedup}${phase.tied ? '-tied' : ''}-${phase.replicas}-${i + 1}`,
        );
        const addresses = await Promise.all(
          names.map(async (name) =>
            String(
              // The URL carries a password: the environment is private to the user, argv is not.
              (
                await group.start(name, replicaArgs({ id: name, dataDir, dedup: phase.dedup }), {
                  DATABASE_URL: databaseUrl,
                })
              ).address,
            ),
          ),
        );
        const clients = addresses.map((a) => new (hedgeProto().Trading)(a, channelCredentials('replica')));
        try {
          for (const concurrency of options.clients) {
            options.onProgress?.(
              `${phase.config}: ${concurrency} client(s) for ${options.durationMs / 1000} s…`,
            );
            rows.push({ ...(await runLoad(phase, clients, quotes, concurrency, options)) });
          }
          if (phase.replicas === 1) {
            options.onProgress?.(`one copy by how it ends: ${(3 * options.durationMs) / 1000} s…`);
            copies = await copyCosts(clients[0] as TradingClient, quotes, options);
          }
        } finally {
          for (const c of clients) c.close();
          for (const name of names) await group.stopOne(name);
        }
      }
    } finally {
      quotes.close();
    }
  } finally {
    await group.stop();
  }
  return { machine: describeMachine(), duration_s: options.durationMs / 1000, rows, copies };
}

/** What one copy of a buy costs, by how it ends, sent one at a time to one replica. */
export interface CopyCost {
  path: string;
  requests: number;
  latency_ms_p50: number;
  cpu_us_per_request: ReplicaBenchRow['cpu_us_per_request'];
}

/**
 * One client, one call at a time, to one replica: a buy under a new request id (the
 * copy that executes), the copy of an answered buy that reads and sends the stored
 * answer (an untied loser), and the same copy tied (TIED_COPY_LOST, tied-copies.ts).
 * Sequential, so a copy's CPU is its own and not shared with concurrent ones.
 */
async function copyCosts(client: TradingClient, quotes: QuoteSource, options: ReplicaBenchOptions) {
  const [untied] = await Promise.all([openSession(client)]);
  const tied = untied.clone();
  tied.set(TIED_KEY, '1');
  const buy = (request: object, metadata: Metadata) =>
    new Promise<void>((resolve) =>
      client.Buy(request, metadata, { deadline: deadlineAfter(5_000) }, () => resolve()),
    );
  const answered = { request_id: uuidv7(), symbol: SYMBOL, shares: 1, quote: await quotes.get(SYMBOL) };
  await buy(answered, untied);
  const paths: [string, () => Promise<void>][] = [
    [
      'executes (new request id)',
      async () => buy({ ...answered, request_id: uuidv7(), quote: await quotes.get(SYMBOL) }, untied),
    ],
    ['loses untied (stored answer sent)', () => buy(answered, untied)],
    ['loses tied (TIED_COPY_LOST)', () => buy(answered, tied)],
  ];
  const out: CopyCost[] = [];
  for (const [path, send] of paths) {
    const warmUntil = performance.now() + Math.min(options.warmupMs, 1_000);
    while (performance.now() < warmUntil) await send();
    const latencies: number[] = [];
    const cpuSince = startCpuCount();
    const end = performance.now() + options.durationMs;
    for (let t0 = performance.now(); t0 < end; t0 = performance.now()) {
      await send();
      latencies.push(performance.now() - t0);
    }
    out.push({
      path,
      requests: latencies.length,
      latency_ms_p50: roundSummary(summarize(latencies)).p50,
      cpu_us_per_request: cpuPerRequest(cpuSince(), latencies.length),
    });
  }
  return out;
}

async function openSession(client: TradingClient): Promise<Metadata> {
  const username = `bench_${uuidv7().replaceAll('-', '').slice(-20)}`;
  const password = 'benchmark password';
  const opts = () => ({ deadline: deadlineAfter(10_000) });
  // Signing up signs in, under the token sent with it.
  const token = newSessionToken();
  await invoke((cb) =>
    client.Register({ request_id: uuidv7(), username, password, session_token: token }, opts(), cb),
  );
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  await invoke((cb) =>
    client.Deposit({ request_id: uuidv7(), amount: '1000000000.00' }, metadata, opts(), cb),
  );
  return metadata;
}

/** Sends one buy to every client; resolves with the first success, or rejects when all fail. */
function fanOutBuy(clients: TradingClient[], metadata: Metadata, quote: SignedQuote__Output): Promise<void> {
  const request = { request_id: uuidv7(), symbol: SYMBOL, shares: 1, quote };
  return new Promise((resolve, reject) => {
    const calls: ClientUnaryCall[] = [];
    let failures = 0;
    let settled = false;
    for (const client of clients) {
      calls.push(
        client.Buy(request, metadata, { deadline: deadlineAfter(5_000) }, (err: ServiceError | null) => {
          if (settled) return;
          if (!err) {
            settled = true;
            for (const c of calls) c.cancel();
            resolve();
          } else if (++failures === clients.length) {
            settled = true;
            reject(err);
          }
        }),
      );
    }
  });
}

async function runLoad(
  phase: Phase,
  clients: TradingClient[],
  quotes: QuoteSource,
  concurrency: number,
  options: ReplicaBenchOptions,
): Promise<ReplicaBenchRow> {
  const sessions = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const metadata = await openSession(clients[0] as TradingClient);
      if (phase.tied) metadata.set(TIED_KEY, '1');
      return metadata;
    }),
  );
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  let cpuSince: (() => CpuByRole) | undefined;
  const startCounting = setTimeout(() => {
    cpuSince = startCpuCount();
  }, options.warmupMs);
  await Promise.all(
    sessions.map(async (metadata) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        try {
          await fanOutBuy(clients, metadata, await quotes.get(SYMBOL));
          if (t0 >= measureFrom) latencies.push(performance.now() - t0);
        } catch {
          if (t0 >= measureFrom) failed += 1;
        }
      }
    }),
  );
  clearTimeout(startCounting);
  const cpu = cpuSince?.() ?? {};
  return {
    config: phase.config,
    replicas: phase.replicas,
    copies: phase.replicas,
    dedup: phase.dedup,
    clients: concurrency,
    requests: latencies.length,
    failed,
    throughput_rps: round(latencies.length / (options.durationMs / 1000), 1),
    latency_ms: roundSummary(summarize(latencies)),
    cpu_us_per_request: cpuPerRequest(cpu, latencies.length),
  };
}

function cpuPerRequest(cpu: CpuByRole, requests: number): ReplicaBenchRow['cpu_us_per_request'] {
  const us = (ms: number) => (requests > 0 ? Math.round((ms * 1000) / requests) : 0);
  let client = 0;
  let replicas = 0;
  let postgres = 0;
  let rest = 0;
  for (const [role, ms] of Object.entries(cpu)) {
    if (role === 'bench (client)') client += ms;
    else if (role.startsWith('replica')) replicas += ms;
    else if (role === 'postgres') postgres += ms;
    else rest += ms;
  }
  return {
    client: us(client),
    replicas: us(replicas),
    postgres: us(postgres),
    rest: us(rest),
    total: us(client + replicas + postgres + rest),
  };
}
