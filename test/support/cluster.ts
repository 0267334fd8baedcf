import type { ChildProcess } from 'node:child_process';
import { status as grpcStatus } from '@grpc/grpc-js';
import { fetchStatusFrom, type ManagerStatus, managerClient } from '../../src/client/manager-client.js';
import { QuoteSource } from '../../src/client/quote-source.js';
import { ReplicatedClient } from '../../src/client/replicated-client.js';
import type { ReplicationMode } from '../../src/client/replication-mode.js';
import { TradingSession } from '../../src/client/trading-session.js';
import { ensureAdministrator } from '../../src/common/admin.js';
import { spawnHedge, stopChild } from '../../src/common/hedge-process.js';
import { CLI_PATH } from '../../src/common/paths.js';
import { deadlineAfter, invoke } from '../../src/common/rpc.js';
import type { FaultReportResponse__Output } from '../../src/gen/hedge/v1/FaultReportResponse.js';
import { blockResource } from './block-resource.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { startTestFeed, type TestFeed, type TestFeedOptions } from './feed.js';
import { uniqueUsername } from './trader.js';

export interface Cluster {
  db: TestDatabase;
  feed: TestFeed;
  managerAddress: string;
  manager: ChildProcess;
  /** Starts another manager over the same data directory (after the first died). */
  restartManager(): Promise<void>;
  status(): Promise<ManagerStatus>;
  waitFor(what: string, condition: (s: ManagerStatus) => boolean, timeoutMs?: number): Promise<ManagerStatus>;
  session(
    mode: ReplicationMode,
    options?: { attemptTimeoutMs?: number; deadlineMs?: number },
  ): Promise<TradingSession>;
  quotes: QuoteSource;
  stop(): Promise<void>;
}

/**
 * A real replicated system: a test database, an in-process feed, and a real
 * `hedge manager` process that spawns three real replica processes. Replicas are
 * owned by this test process, so none outlives it.
 */
/** `hedge manager`'s argv as the test suites start it: three replicas, at least two, one feed. */
export function managerArgs(o: { dataDir: string; port: number; feed: string; host?: string }): string[] {
  return [
    'manager',
    '--data-dir',
    o.dataDir,
    ...(o.host ? ['--host', o.host] : []),
    '--port',
    String(o.port),
    '--replicas',
    '3',
    '--min',
    '2',
    '--feed',
    o.feed,
  ];
}

/** `hedge trade`'s argv (after node's) against a cluster, then `extra`. */
export function tradeArgs(c: Cluster, ...extra: string[]): string[] {
  return [CLI_PATH, 'trade', '--manager', c.managerAddress, '--feed', c.feed.address, ...extra];
}

/** The operations of the requests the cluster claimed for a user, oldest first: one per mutating call it received. */
export async function requestsOf(c: Cluster, username: string): Promise<string[]> {
  const { rows } = await c.db.pool.query<{ op: string }>(
    `SELECT op FROM request_log JOIN users ON users.id = request_log.user_id WHERE username = $1
     ORDER BY request_log.created_at`,
    [username],
  );
  return rows.map((r) => r.op);
}

export async function startCluster(
  extraManagerArgs: string[] = [],
  feedOptions: TestFeedOptions = {},
): Promise<Cluster> {
  const db = await createTestDatabase();
  const feed = await startTestFeed(feedOptions);
  // The administrator, as `hedge up` makes it: its password in the data directory.
  await ensureAdministrator(db.pool, feed.dataDir);
  const sessions: TradingSession[] = [];
  let port = 0;
  const spawnManager = async () => {
    const spawned = spawnHedge(
      [
        ...managerArgs({ dataDir: feed.dataDir, port, feed: feed.address }),
        '--owner-pid',
        String(process.pid),
        ...extraManagerArgs,
      ],
      { lifeline: true, env: { DATABASE_URL: db.url } },
    );
    const ready = await spawned.ready;
    port = Number(String(ready.address).split(':').pop());
    return { child: spawned.child, address: String(ready.address) };
  };
  let manager = await spawnManager();
  const quotes = new QuoteSource(feed.address);

  const cluster: Cluster = {
    db,
    feed,
    quotes,
    get managerAddress() {
      return manager.address;
    },
    get manager() {
      return manager.child;
    },
    restartManager: async () => {
      manager = await spawnManager();
    },
    status: () => fetchStatusFrom(manager.address),
    waitFor: async (what, condition, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await cluster.status().catch(() => undefined);
        if (status && condition(status)) return status;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status?.replicas)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    session: async (mode, options = {}) => {
      const replicated = await ReplicatedClient.connect({ manager: manager.address, mode, ...options });
      const session = new TradingSession(replicated);
      const username = uniqueUsername(mode);
      await session.register(username, 'test password');
      await session.deposit('1000000.00');
      sessions.push(session);
      return session;
    },
    stop: async () => {
      for (const s of sessions) s.client.close();
      quotes.close();
      await stopChild(manager.child);
      await feed.stop();
      await db.drop();
    },
  };
  return cluster;
}

/** A cluster for the enclosing describe block, stopped after its tests. */
export const useCluster = (...args: Parameters<typeof startCluster>): Cluster =>
  blockResource(
    () => startCluster(...args),
    (c) => c.stop(),
  );

export const serving = (s: ManagerStatus) => s.replicas.filter((r) => r.state === 'REPLICA_STATE_SERVING');

/** A client's fault report about a replica, as the replicated client sends it. */
export async function report(
  c: Cluster,
  replicaId: string,
  address = '',
): Promise<FaultReportResponse__Output> {
  const client = managerClient(c.managerAddress);
  try {
    return await invoke((cb) =>
      client.ReportFault(
        { replica_id: replicaId, address, code: grpcStatus.UNAVAILABLE, message: 'a client says so' },
        { deadline: deadlineAfter(5_000) },
        cb,
      ),
    );
  } finally {
    client.close();
  }
}
