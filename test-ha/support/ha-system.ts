import { cpSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach } from 'vitest';
import type { ManagerStatus } from '../../src/client/manager-client.js';
import { fetchStatusFrom } from '../../src/client/manager-client.js';
import { QuoteSource } from '../../src/client/quote-source.js';
import { ReplicatedClient } from '../../src/client/replicated-client.js';
import type { ReplicationMode } from '../../src/client/replication-mode.js';
import { TradingSession } from '../../src/client/trading-session.js';
import { ensureAdministrator } from '../../src/common/admin.js';
import { createPool, type Pool } from '../../src/common/database.js';
import { type SpawnedHedgeProcess, spawnHedge, stopChild } from '../../src/common/hedge-process.js';
import { createNetwork, type SimulatedNetwork } from '../../src/common/netns.js';
import { makeTempDataDir } from '../../src/common/paths.js';
import { signalQuietly } from '../../src/common/process-state.js';
import { EtcdQuorumError, type HaCluster, type HaMember, startHaCluster } from '../../src/ha/ha-cluster.js';
import { freePort, MEMBERS } from '../../src/ha/ha-layout.js';
import { managerArgs } from '../../test/support/cluster.js';
import { startTestFeed, type TestFeed } from '../../test/support/feed.js';
import { uniqueUsername } from '../../test/support/trader.js';
import type { TradeStream } from './trade-stream.js';

export interface HaSystem {
  dataDir: string;
  cluster: HaCluster;
  /** With `hosts`: the simulated hosts db1-db3, member i on host i; hedge and the test in the root namespace. */
  network?: SimulatedNetwork;
  /** A pool over all three nodes: it follows the primary, as the replicas' do. */
  pool: Pool;
  feed: TestFeed;
  quotes: QuoteSource;
  /** Every manager's address, comma-separated (clients are given all of them). */
  managerAddress: string;
  /** The manager processes, in the order they were started (with `managers: 2`, the first is active). */
  managers: SpawnedHedgeProcess[];
  /** Each manager's own address, in that order. */
  managerAddresses: string[];
  status(): Promise<ManagerStatus>;
  /** A registered, funded user's session, with the client's default deadline and fail-over budget. */
  session(mode: ReplicationMode): Promise<TradingSession>;
  /** The member Patroni lists with `role`, waiting for one. */
  member(role: string, timeoutMs?: number, not?: string): Promise<HaMember>;
  /** Processes the test stopped (SIGSTOP): continued before anything is stopped. */
  stopped: number[];
  stop(): Promise<void>;
}

/**
 * The system `hedge up --ha` runs, with a test feed in this process: the
 * Patroni cluster (three etcd members, three PostgreSQL 15 nodes) under a
 * temporary data directory, and a real manager process with three real replica
 * processes over its multi-host URL. With `hosts`, each database member (etcd,
 * Patroni, PostgreSQL) runs on a simulated host of its own (a network
 * namespace, src/common/netns.ts), reached over the bridge. `stop` kills and
 * removes all of it, the namespaces last, failed test or not.
 */
export async function startHaSystem(options: { managers?: 1 | 2; hosts?: boolean } = {}): Promise<HaSystem> {
  const dataDir = makeTempDataDir('hedge-test-ha-');
  const cleanups: (() => Promise<void>)[] = [];
  const stopped: number[] = [];
  const sessions: TradingSession[] = [];
  let network: SimulatedNetwork | undefined;
  const stop = async () => {
    for (const pid of stopped.splice(0)) signalQuietly(pid, 'SIGCONT');
    try {
      // A member cut off would stop slowly (Patroni waiting on etcd): every host rejoins first.
      for (const host of network?.hosts ?? []) {
        try {
          network?.heal(host);
        } catch {
          // Its link is gone already: nothing to heal.
        }
      }
      for (const s of sessions) s.client.close();
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    } finally {
      network?.teardown();
    }
    // For a person chasing a failure: the members' logs, kept where they say.
    const keep = process.env.HEDGE_TEST_KEEP_LOGS;
    if (keep) cpSync(join(dataDir, 'logs'), join(keep, basename(dataDir)), { recursive: true });
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    if (options.hosts) {
      network = createNetwork(Array.from({ length: MEMBERS }, (_, i) => `db${i + 1}`));
    }
    const placement = network && {
      hosts: network.hosts.map((h) => ({ address: h.address, namespace: h.namespace })),
      network: `${network.gateway.replace(/\.\d+$/, '.0')}/24`,
    };
    // The suite tests fail-overs, not a cluster's first start: one that formed no etcd quorum
    // (seen once in CI, cause unknown; the error carries the members' last log lines) gets
    // one more try on fresh ports.
    const cluster = await startHaCluster(dataDir, undefined, placement).catch((err: Error) => {
      if (!(err instanceof EtcdQuorumError)) throw err;
      console.warn(`[ha] ${err.message}; starting the cluster once more, on fresh ports`);
      rmSync(join(dataDir, 'ha'), { recursive: true, force: true });
      return startHaCluster(dataDir, undefined, placement);
    });
    cleanups.push(() => cluster.stop());
    const pool = createPool(cluster.databaseUrl, { max: 2, applicationName: 'hedge-test-ha' });
    cleanups.push(() => pool.end());
    // Quotes outlive a fail-over's pause: a retried buy is not refused for its quote's age.
    const feed = await startTestFeed({ dataDir, quoteTtlMs: 120_000 });
    cleanups.push(() => feed.stop());
    await ensureAdministrator(pool, dataDir);
    const managers: SpawnedHedgeProcess[] = [];
    const managerAddresses: string[] = [];
    if ((options.managers ?? 1) === 1) {
      const manager = spawnHedge(
        [...managerArgs({ dataDir, port: 0, feed: feed.address }), '--owner-pid', String(process.pid)],
        { lifeline: true, env: { DATABASE_URL: cluster.databaseUrl } },
      );
      cleanups.push(() => stopChild(manager.child));
      managers.push(manager);
      managerAddresses.push(String((await manager.ready).address));
    } else {
      // As `hedge up --ha` runs them: two managers on ports known to both, one active through an etcd lease.
      const ports = [await freePort(), await freePort()];
      const peers = ports.map((p) => `127.0.0.1:${p}`);
      for (const port of ports) {
        const manager = spawnHedge(
          [
            ...managerArgs({ dataDir, port, feed: feed.address }),
            '--owner-pid',
            String(process.pid),
            '--lease',
            cluster.layout.etcdUrls,
            '--peers',
            peers.join(','),
          ],
          { lifeline: true, env: { DATABASE_URL: cluster.databaseUrl } },
        );
        // SIGINT: the replicas stop with it (SIGTERM would hand them over to the other manager).
        cleanups.push(() => stopChild(manager.child, undefined, 'SIGINT'));
        managers.push(manager);
        // Ready as a standby at once; the first is active once it answers.
        managerAddresses.push(String((await manager.ready).address));
        if (managers.length === 1) await answering(peers[0] as string);
      }
    }
    const managerAddress = managerAddresses.join(',');
    const quotes = new QuoteSource(feed.address);
    cleanups.push(async () => quotes.close());
    const member = async (role: string, timeoutMs = 120_000, not?: string) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const members = await cluster.members();
        const found = members.find((m) => m.role === role && m.name !== not && m.postgresPid !== undefined);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no ${role} within ${timeoutMs} ms: ${JSON.stringify(members)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    return {
      dataDir,
      cluster,
      network,
      pool,
      feed,
      quotes,
      managerAddress,
      managers,
      managerAddresses,
      // A generous deadline: a new channel (mTLS handshake, pick_first over both managers) on a machine
      // running three PostgreSQL nodes, three etcd members and the replicas.
      status: () => fetchStatusFrom(managerAddress, 10_000),
      session: async (mode) => {
        // The defaults: a trade sent during a fail-over must succeed as a user's would (failover-budget.ts).
        const replicated = await ReplicatedClient.connect({ manager: managerAddress, mode });
        const session = new TradingSession(replicated);
        sessions.push(session);
        await session.register(uniqueUsername(mode), 'test password');
        await session.deposit('1000000.00');
        return session;
      },
      member,
      stopped,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until the manager at `address` answers GetStatus (it is active: a standby does not listen). */
export async function answering(address: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (
      await fetchStatusFrom(address, 1_000).then(
        () => true,
        () => false,
      )
    )
      return;
    if (Date.now() > deadline) throw new Error(`the manager at ${address} did not become active`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a test started, stopped after each test: its trade stream first, then its system. */
export function stopAfterEach(): { sys?: HaSystem; stream?: TradeStream } {
  const held: { sys?: HaSystem; stream?: TradeStream } = {};
  afterEach(async () => {
    await held.stream?.stop();
    held.stream = undefined;
    await held.sys?.stop();
    held.sys = undefined;
  });
  return held;
}
