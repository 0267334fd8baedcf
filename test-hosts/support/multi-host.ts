import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fetchStatusFrom, type ManagerStatus } from '../../src/client/manager-client.js';
import { QuoteSource } from '../../src/client/quote-source.js';
import { ReplicatedCallError, ReplicatedClient } from '../../src/client/replicated-client.js';
import { TradingSession } from '../../src/client/trading-session.js';
import { ensureAdministrator } from '../../src/common/admin.js';
import { spawnHedge } from '../../src/common/hedge-process.js';
import { uuidv7 } from '../../src/common/ids.js';
import { createNetwork, type SimulatedHost, type SimulatedNetwork } from '../../src/common/netns.js';
import { CLI_PATH, makeTempDataDir } from '../../src/common/paths.js';
import { hedgeProto } from '../../src/common/proto.js';
import { deadlineAfter, invoke } from '../../src/common/rpc.js';
import type { Injection } from '../../src/fault-injector/injector.js';
import type { HostReplicas__Output } from '../../src/gen/hedge/v1/HostReplicas.js';
import type { Membership__Output } from '../../src/gen/hedge/v1/Membership.js';
import { ROLES } from '../../src/tls/certificates.js';
import { issueHostTlsDir } from '../../src/tls/host-tls-dir.js';
import { loadIdentity, localHosts, readAuthority } from '../../src/tls/tls-dir.js';
import { channelCredentials, useTransport } from '../../src/tls/transport.js';
import { managerArgs as baseManagerArgs } from '../../test/support/cluster.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/database.js';
import { startTestFeed, type TestFeed } from '../../test/support/feed.js';
import { uniqueUsername } from '../../test/support/trader.js';

/** Replica hosts h1-h3 and the manager's host m, each a network namespace with its own agent (not m). */
export const REPLICA_HOSTS = ['h1', 'h2', 'h3'];

export interface MultiHost {
  network: SimulatedNetwork;
  db: TestDatabase;
  /** The database as the hosts reach it (through the relay on the bridge). */
  dbUrl: string;
  feed: TestFeed;
  quotes: QuoteSource;
  managerAddress: string;
  agents: Map<string, string>;
  status(): Promise<ManagerStatus>;
  waitFor(what: string, condition: (s: ManagerStatus) => boolean, timeoutMs?: number): Promise<ManagerStatus>;
  /** What the host's agent lists (asked from the test's namespace, the root one). */
  listOn(host: string): Promise<HostReplicas__Output>;
  /** Every view the manager published since the cluster started, as a watching client saw them. */
  views: Membership__Output[];
  session(): Promise<TradingSession>;
  /** SIGKILLs the manager (its replicas run on). */
  killManager(): Promise<void>;
  /** A new manager on the same address and data directory. */
  restartManager(): Promise<void>;
  /** A fresh agent on the host, on the address the manager was given (after a crash). */
  restartAgent(host: string): Promise<void>;
  /** `hedge inject <args>` against the manager, from the test's namespace (the root one). */
  inject(args: string[]): InjectRun;
  stop(): Promise<void>;
}

/** Relays TCP from `listenHost` (the bridge) to 127.0.0.1:`port`: the database as the other hosts reach it. */
async function relay(listenHost: string, port: number): Promise<Server> {
  const server = createServer((socket) => {
    const upstream = connect(port, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, listenHost, resolve));
  return server;
}

function inHost(host: SimulatedHost): string[] {
  return ['ip', 'netns', 'exec', host.namespace];
}

export interface MultiHostOptions {
  /** A replica host the manager shares with its agent (as in the README's example), instead of a host `m` of its own. */
  managerOn?: string;
}

/**
 * Three replica hosts with an agent each, the manager on a fourth host (or on
 * `managerOn`), the feed and the database (through a relay) in the root
 * namespace on the bridge, and the test's clients there too. Everything it
 * started is killed on stop, failed or not: the hosts are crashed and their
 * namespaces removed.
 */
export async function startMultiHost(
  managerArgs: string[] = [],
  options: MultiHostOptions = {},
): Promise<MultiHost> {
  const managerOn = options.managerOn ?? 'm';
  const network = createNetwork(
    REPLICA_HOSTS.includes(managerOn) ? REPLICA_HOSTS : [...REPLICA_HOSTS, managerOn],
  );
  const cleanups: (() => Promise<void> | void)[] = [() => network.teardown()];
  const children: ChildProcess[] = [];
  const sessions: TradingSession[] = [];
  const stop = async () => {
    for (const s of sessions) s.client.close();
    for (const c of children) c.kill('SIGKILL');
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    // mTLS across the hosts, as on real ones: each host's certificates name its own address
    // (`hedge certs issue --host`), from the test run's CA; no host but the root one holds its key.
    const runTlsDir = process.env.HEDGE_TLS_DIR ?? '';
    const authority = readAuthority(runTlsDir);
    const tlsRoot = makeTempDataDir('hedge-hosts-tls-');
    cleanups.push(() => rmSync(tlsRoot, { recursive: true, force: true }));
    // The test's own process serves the feed on the bridge and plays every client: all roles, at the gateway too.
    const rootDir = issueHostTlsDir(
      authority,
      join(tlsRoot, 'root'),
      [ROLES],
      [...localHosts(), network.gateway],
    );
    useTransport({ insecure: false, identity: loadIdentity(rootDir, ROLES) });
    cleanups.push(() => useTransport({ insecure: false, identity: loadIdentity(runTlsDir, ROLES) }));
    const hostTls = (host: SimulatedHost, roles: ('manager' | 'replica')[]) => ({
      HEDGE_TLS_DIR: issueHostTlsDir(
        authority,
        join(tlsRoot, host.name),
        roles.map((r) => [r]),
        [host.address],
      ),
    });
    const tlsEnv = new Map(
      network.hosts.map((h) => [h.name, hostTls(h, h.name === 'm' ? ['manager'] : ['manager', 'replica'])]),
    );
    const db = await createTestDatabase();
    cleanups.push(() => db.drop());
    const dbUrl = new URL(db.url);
    const dbRelay = await relay(network.gateway, Number(dbUrl.port));
    cleanups.push(() => {
      dbRelay.close();
    });
    dbUrl.hostname = network.gateway;
    dbUrl.port = String((dbRelay.address() as { port: number }).port);
    const feed = await startTestFeed({ host: network.gateway });
    cleanups.push(() => feed.stop());
    await ensureAdministrator(db.pool, feed.dataDir);
    const quotes = new QuoteSource(feed.address);
    cleanups.push(() => quotes.close());

    const agents = new Map<string, string>();
    const startAgent = async (name: string, port = 0) => {
      const host = network.host(name);
      const spawned = spawnHedge(
        ['agent', '--name', name, '--host', host.address, '--port', String(port), '--data-dir', feed.dataDir],
        {
          wrapper: inHost(host),
          env: { DATABASE_URL: dbUrl.toString(), ...tlsEnv.get(name) },
          output: 'inherit',
        },
      );
      children.push(spawned.child);
      agents.set(name, String((await spawned.ready).address));
    };
    for (const name of REPLICA_HOSTS) await startAgent(name);
    const managerHost = network.host(managerOn);
    let managerChild: ChildProcess | undefined;
    const startManager = async (port = 0) => {
      const manager = spawnHedge(
        [
          ...baseManagerArgs({ dataDir: feed.dataDir, host: managerHost.address, port, feed: feed.address }),
          '--agents',
          [...agents].map(([name, address]) => `${name}=${address}`).join(','),
          ...managerArgs,
        ],
        {
          wrapper: inHost(managerHost),
          env: { DATABASE_URL: dbUrl.toString(), ...tlsEnv.get(managerOn) },
          output: 'inherit',
        },
      );
      children.push(manager.child);
      managerChild = manager.child;
      return String((await manager.ready).address);
    };
    const managerAddress = await startManager();

    const views: Membership__Output[] = [];
    const watcher = new (hedgeProto().ReplicationManager)(managerAddress, channelCredentials('manager'));
    const stream = watcher.WatchMembership({});
    stream.on('data', (view: Membership__Output) => views.push(view));
    stream.on('error', () => {});
    cleanups.push(() => {
      stream.cancel();
      watcher.close();
    });

    const AgentClient = hedgeProto().HostAgent;
    const cluster: MultiHost = {
      network,
      db,
      dbUrl: dbUrl.toString(),
      feed,
      quotes,
      managerAddress,
      agents,
      views,
      status: () => fetchStatusFrom(managerAddress, 3_000),
      waitFor: async (what, condition, timeoutMs = 60_000) => {
        const deadline = Date.now() + timeoutMs;
        let last: ManagerStatus | undefined;
        for (;;) {
          const status = await cluster.status().catch(() => undefined);
          last = status ?? last;
          if (status && condition(status)) return status;
          if (Date.now() > deadline)
            throw new Error(
              `timed out waiting for ${what}: ${JSON.stringify({ r: last?.replicas, h: last?.hosts })}`,
            );
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      listOn: async (host) => {
        // Agents hold the manager role.
        const client = new AgentClient(agents.get(host) ?? '', channelCredentials('manager'));
        try {
          return await invoke<HostReplicas__Output>((cb) =>
            client.ListReplicas({}, { deadline: deadlineAfter(3_000) }, cb),
          );
        } finally {
          client.close();
        }
      },
      session: async () => {
        const replicated = await ReplicatedClient.connect({ manager: managerAddress, mode: 'active' });
        const session = new TradingSession(replicated);
        sessions.push(session);
        await session.register(uniqueUsername('hosts'), 'test password');
        await session.deposit('1000000.00');
        return session;
      },
      killManager: async () => {
        const child = managerChild;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await gone;
      },
      restartManager: async () => {
        await startManager(Number(managerAddress.split(':').pop()));
      },
      restartAgent: (name) => startAgent(name, Number(agents.get(name)?.split(':').pop())),
      inject: (args) => {
        const child = spawn(process.execPath, [CLI_PATH, 'inject', '--manager', managerAddress, ...args], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
        const injection = new Promise<Injection>((resolve, reject) => {
          createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
          void exited.then((code) => reject(new Error(`hedge inject exited (${code}) before injecting`)));
        });
        return {
          injection,
          exited,
          interrupt: async () => {
            child.kill('SIGINT');
            return exited;
          },
        };
      },
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface InjectRun {
  /** Its first JSON line. */
  injection: Promise<Injection>;
  /** SIGINTs it (a partition under way heals at once); its exit code. */
  interrupt(): Promise<number | null>;
  /** Its exit code, once it exits on its own. */
  exited: Promise<number | null>;
}

export interface Trading {
  /** Stops issuing calls and resolves with what every session saw. */
  stop(): Promise<{ ok: number; failed: string[]; acknowledged: Map<string, number> }>;
  /** Acknowledged buys so far. */
  ok(): number;
}

/** One buy of one share at a time per session, until stopped: a stream of active trades. */
export function keepTrading(sessions: TradingSession[], quotes: QuoteSource): Trading {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const acknowledged = new Map<string, number>();
  const loops = sessions.map(async (session) => {
    await quotes.follow(['ABC']);
    while (running) {
      try {
        await session.buy('ABC', 1, await quotes.get('ABC'), uuidv7());
        ok += 1;
        const user = session.username ?? '';
        acknowledged.set(user, (acknowledged.get(user) ?? 0) + 1);
      } catch (err) {
        failed.push(err instanceof ReplicatedCallError ? `${err.code} ${err.details}` : String(err));
        // A test that failed before stopping this (its clients closed under it) must not spin.
        if (failed.length >= 100) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });
  return {
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failed, acknowledged };
    },
  };
}

/** Each user's ABC shares in the database: what the acknowledgements must add up to. */
export async function sharesByUser(db: TestDatabase): Promise<Map<string, number>> {
  const { rows } = await db.pool.query<{ username: string; shares: string }>(
    `SELECT u.username, h.shares + h.reserved_shares AS shares
       FROM holdings h JOIN users u ON u.id = h.user_id WHERE h.symbol = 'ABC'`,
  );
  return new Map(rows.map((r) => [r.username, Number(r.shares)]));
}
