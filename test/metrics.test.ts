import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TradingSession } from '../src/client/trading-session.js';
import { uuidv7 } from '../src/common/ids.js';
import { type MetricsEndpoint, serveMetrics } from '../src/common/metrics.js';
import { metricsTargetsDir } from '../src/common/metrics-targets.js';
import { hedgeProto } from '../src/common/proto.js';
import { newTraceparent, parseTraceId } from '../src/common/trace-context.js';
import type { TradeResponse__Output } from '../src/gen/hedge/v1/TradeResponse.js';
import { type Cluster, serving, startCluster } from './support/cluster.js';
import { waitFor } from './support/wait.js';

/** One Prometheus text exposition, as samples: name, labels, value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return parseExposition(await res.text());
}

/** The sum of a metric's samples whose labels include `where`. */
function total(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Every endpoint `hedge up`'s processes list in <data-dir>/metrics/ (Prometheus file_sd), by component-id. */
function targets(dataDir: string): Map<string, string> {
  const dir = metricsTargetsDir(dataDir);
  const found = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    const [group] = JSON.parse(readFileSync(join(dir, f), 'utf8')) as {
      targets: string[];
      labels: { component: string; instance_id: string };
    }[];
    if (group)
      found.set(
        `${group.labels.component}-${group.labels.instance_id}`,
        `http://${group.targets[0]}/metrics`,
      );
  }
  return found;
}

const BUY = { grpc_service: 'hedge.v1.Trading', grpc_method: 'Buy' };

describe('metrics and trace ids of a real replicated system', () => {
  let cluster: Cluster;
  let session: TradingSession;
  let client: MetricsEndpoint;
  const saved = { port: process.env.HEDGE_METRICS_PORT, level: process.env.HEDGE_LOG_LEVEL };

  beforeAll(async () => {
    // As `hedge up` does: every process (the manager, and the replicas it spawns) on a free loopback port.
    process.env.HEDGE_METRICS_PORT = '0';
    process.env.HEDGE_LOG_LEVEL = 'debug';
    try {
      // No warm spare: every replica process is in the view, so the copies add up to 3N.
      cluster = await startCluster(['--heartbeat-interval', '200ms', '--spares', '0']);
    } finally {
      if (saved.port === undefined) delete process.env.HEDGE_METRICS_PORT;
      else process.env.HEDGE_METRICS_PORT = saved.port;
      if (saved.level === undefined) delete process.env.HEDGE_LOG_LEVEL;
      else process.env.HEDGE_LOG_LEVEL = saved.level;
    }
    await cluster.waitFor('three serving replicas', (s) => serving(s).length === 3);
    await waitFor('four metrics endpoints listed', () => targets(cluster.feed.dataDir).size === 4, 20_000);
    session = await cluster.session('active', { deadlineMs: 20_000 });
    // The client library's registry, served as `hedge bench --metrics-port` does.
    client = await serveMetrics('127.0.0.1', 0, undefined);
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await cluster?.stop();
  });

  /** The replicas' log lines about `requestId`, once each of the three has written one. */
  async function replicaLinesOf(requestId: string) {
    const logDir = join(cluster.feed.dataDir, 'logs');
    const linesFor = () =>
      readdirSync(logDir)
        .filter((f) => f.startsWith('replica-'))
        .flatMap((f) => readFileSync(join(logDir, f), 'utf8').split('\n'))
        .filter((l) => l.includes(requestId))
        .map((l) => JSON.parse(l) as { requestId: string; traceId: string; method: string; replica: string });
    await waitFor(
      'a line from each replica',
      () => new Set(linesFor().map((l) => l.replica)).size === 3,
      20_000,
    );
    return linesFor();
  }

  const replicaUrls = () =>
    [...targets(cluster.feed.dataDir)].filter(([k]) => k.startsWith('replica-')).map(([, url]) => url);

  it('N trades in active mode: N claimed once across the replicas, 3N copies handled, N client wins and 2N losses', async () => {
    const N = 5;
    const urls = replicaUrls();
    expect(urls).toHaveLength(3);
    // The session's Register and Deposit: the copies the client did not wait for settle first.
    await waitFor('the setup copies counted', async () =>
      (await Promise.all(urls.map(scrape))).every(
        (s) => total(s, 'hedge_grpc_server_handled_total', { grpc_service: 'hedge.v1.Trading' }) === 2,
      ),
    );
    const before = await Promise.all(urls.map(scrape));
    const clientBefore = await scrape(client.url);
    const quote = await cluster.quotes.get('ABC');
    for (let i = 0; i < N; i += 1) await session.buy('ABC', 1, quote);
    // The losing copies answer within the engine's grace period; each replica's count settles at N copies.
    const sumOver = (ss: Sample[][], name: string, where: Record<string, string>) =>
      ss.reduce((sum, s) => sum + total(s, name, where), 0);
    const handledDelta = async () =>
      sumOver(await Promise.all(urls.map(scrape)), 'hedge_grpc_server_handled_total', BUY) -
      sumOver(before, 'hedge_grpc_server_handled_total', BUY);
    await waitFor('every copy counted', async () => (await handledDelta()) === 3 * N, 20_000);
    const after = await Promise.all(urls.map(scrape));
    const delta = (name: string, where: Record<string, string> = {}) =>
      sumOver(after, name, where) - sumOver(before, name, where);

    // Every copy reached a replica: 3 per trade, each counted once by its outcome.
    expect(delta('hedge_grpc_server_handled_total', BUY)).toBe(3 * N);
    expect(delta('hedge_grpc_server_handling_seconds_count', BUY)).toBe(3 * N);
    // Exactly one copy of each trade did the work; every other copy that reached the database
    // found a tied sibling executing it (tied), the claim (waited) or the stored answer
    // (replayed); the rest were cancelled before it.
    expect(delta('hedge_dedup_outcomes_total', { outcome: 'claimed' })).toBe(N);
    expect(
      delta('hedge_dedup_outcomes_total', { outcome: 'tied' }) +
        delta('hedge_dedup_outcomes_total', { outcome: 'waited' }) +
        delta('hedge_dedup_outcomes_total', { outcome: 'replayed' }) +
        delta('hedge_grpc_server_handled_total', { ...BUY, grpc_code: 'CANCELLED' }),
    ).toBe(2 * N);
    for (const s of after) {
      expect(total(s, 'hedge_db_pool_connections', { pool: 'requests', state: 'total' })).toBeGreaterThan(0);
      expect(total(s, 'hedge_db_pool_connections', { pool: 'requests', state: 'waiting' })).toBe(0);
    }

    const clientAfter = await scrape(client.url);
    const clientDelta = (name: string) => total(clientAfter, name) - total(clientBefore, name);
    expect(clientDelta('hedge_client_replica_wins_total')).toBe(N);
    // Active mode sends every trade to all three: the two copies not used are losses.
    expect(clientDelta('hedge_client_replica_losses_total')).toBe(2 * N);
    expect(clientDelta('hedge_client_replica_failures_total')).toBe(0);
    expect(clientDelta('hedge_client_failovers_total')).toBe(0);
    expect(
      total(clientAfter, 'hedge_client_call_seconds_count', { grpc_method: 'Buy', grpc_code: 'OK' }) -
        total(clientBefore, 'hedge_client_call_seconds_count', { grpc_method: 'Buy', grpc_code: 'OK' }),
    ).toBe(N);
  });

  it("a client's trace id reaches every replica's log line for the request and the request's row in the database", async () => {
    const traceparent = newTraceparent();
    const traceId = parseTraceId(traceparent) as string;
    const requestId = uuidv7();
    const metadata = session.metadata.clone();
    metadata.set('traceparent', traceparent);
    const quote = await cluster.quotes.get('ABC');
    await session.client.call<TradeResponse__Output>(
      hedgeProto().Trading.service.Buy,
      { request_id: requestId, symbol: 'ABC', shares: '1', quote },
      metadata,
    );
    const { rows } = await cluster.db.pool.query<{ trace_id: string; op: string }>(
      'SELECT trace_id, op FROM request_log WHERE request_id = $1',
      [requestId],
    );
    expect(rows).toEqual([{ trace_id: traceId, op: 'buy' }]);

    // Each replica logs the request (at debug level, which this cluster runs at) with both ids.
    const lines = await replicaLinesOf(requestId);
    for (const line of lines) {
      expect(line).toMatchObject({ requestId, traceId, method: 'Buy' });
    }
  });

  it('a call without a traceparent gets one of its own: every copy and the stored request carry the same', async () => {
    const requestId = uuidv7();
    await session.buy('ABC', 1, await cluster.quotes.get('ABC'), requestId);
    const { rows } = await cluster.db.pool.query<{ trace_id: string }>(
      'SELECT trace_id FROM request_log WHERE request_id = $1',
      [requestId],
    );
    expect(rows[0]?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    // One trace for the logical call: the three copies, on three replicas, carry the stored one.
    const lines = await replicaLinesOf(requestId);
    expect(new Set(lines.map((l) => l.traceId))).toEqual(new Set([rows[0]?.trace_id]));
    // The session's own metadata was not changed: the next call gets another trace.
    expect(session.metadata.get('traceparent')).toEqual([]);
  });

  it("the manager's view, serving count, and an exit's detection and replacement, by cause", async () => {
    const managerUrl = targets(cluster.feed.dataDir).get('manager-manager') as string;
    const before = await scrape(managerUrl);
    const status = await cluster.status();
    expect(total(before, 'hedge_manager_view_number')).toBe(Number(status.view));
    expect(total(before, 'hedge_manager_replicas', { state: 'serving' })).toBe(3);
    const victim = serving(status)[0];
    if (!victim) throw new Error('no serving replica');
    process.kill(victim.pid, 'SIGKILL');
    await cluster.waitFor(
      'the replacement serving',
      (s) => serving(s).length === 3 && Number(s.recoveries) > Number(status.recoveries),
      30_000,
    );
    const after = await scrape(managerUrl);
    const delta = (name: string, where: Record<string, string> = {}) =>
      total(after, name, where) - total(before, name, where);
    expect(delta('hedge_manager_faults_detected_total', { cause: 'exit' })).toBe(1);
    expect(delta('hedge_manager_faults_detected_total')).toBe(1);
    expect(delta('hedge_manager_replacements_total', { cause: 'exit' })).toBe(1);
    expect(delta('hedge_manager_recovery_seconds_count', { cause: 'exit' })).toBe(1);
    expect(total(after, 'hedge_manager_view_number')).toBe(Number((await cluster.status()).view));
    // The replacement lists its own endpoint under the slot's id.
    await waitFor(
      'the replacement listed and serving metrics',
      async () => {
        const url = targets(cluster.feed.dataDir).get(`replica-${victim.id}`);
        return (
          url !== undefined &&
          (await fetch(url).then(
            (r) => r.ok,
            () => false,
          ))
        );
      },
      20_000,
    );
  }, 60_000);
});
