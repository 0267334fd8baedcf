import { join } from 'node:path';
import { ensureAdministrator } from '../common/admin.js';
import { BACKOFF, Backoff, restartDelay, STEADY_MS } from '../common/backoff.js';
import { createPool } from '../common/database.js';
import type { Logger } from '../common/logger.js';
import { metricsTargetsDir } from '../common/metrics-targets.js';
import { migrate } from '../common/migrate.js';
import { ProcessGroup } from '../common/process-group.js';
import { removeRunFile, writeRunFile } from '../common/run-files.js';
import type { HaCluster } from '../ha/ha-cluster.js';
import { isInsecure } from '../tls/transport.js';
import { assertPortFree } from './free-port.js';

export interface UpOptions {
  dataDir: string;
  /** Use this PostgreSQL server instead of starting the embedded one. */
  databaseUrl?: string;
  /** Start the three-node Patroni cluster (src/ha) instead of the embedded server. */
  ha?: boolean;
  /** One port per feed (0 picks a free one): every feed quotes the same price for a tick. */
  feedPorts: number[];
  managerPort: number;
  feedArgs: string[];
  managerArgs: string[];
  /** Every process serves Prometheus metrics on a free loopback port (listed in <data-dir>/metrics/). */
  metrics?: boolean;
}

export interface RunningSystem {
  databaseUrl: string;
  /** Every feed's address, comma-separated (the --feed list). */
  feedAddress: string;
  managerAddress: string;
  logDir: string;
  /** With metrics on: the manager's and the feeds' endpoints (comma-separated), and the file_sd directory listing every process's. */
  metrics?: { manager: string; feed: string; targetsDir: string };
  /** Resolves with a description when a process the system cannot do without dies. */
  failed: Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts the system as child processes of this one (see ProcessGroup: none of
 * them outlives it): the embedded database, the feeds, and the replication
 * manager, which starts the replicas and ties them to this process too. The
 * database, a feed or the manager dying is restarted on its port (a restarted
 * manager adopts the replicas still serving; replicas wait, not serving, while
 * the database is away). Logs go to <data-dir>/logs/.
 */
export async function runUp(options: UpOptions, log: Logger): Promise<RunningSystem> {
  const group = new ProcessGroup(join(options.dataDir, 'logs'));
  let fail: (why: string) => void = () => {};
  const failed = new Promise<string>((resolve) => {
    fail = resolve;
  });
  const dataDirArgs = ['--data-dir', options.dataDir];
  /** How to start a process again, on the port it first took (clients know that address). */
  const restartable = new Map<
    string,
    { args: string[]; env: NodeJS.ProcessEnv; restarts: Backoff; readyAt?: number }
  >();
  let stopped = false;

  const start = async (name: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const ready = await group.start(name, args, env);
    log.info({ process: name, childPid: ready.pid, address: ready.address }, `${name} is up`);
    return ready;
  };
  /** A process that just came up is restarted with `args` (on its first port) if it exits. */
  const restartOnExit = (name: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    restartable.set(name, { args, env, restarts: new Backoff(BACKOFF.upRestart), readyAt: Date.now() });
  };

  group.onUnexpectedExit((name, description) => {
    const spec = restartable.get(name);
    if (!spec) {
      fail(description);
      return;
    }
    const delay = restartDelay(spec.restarts, spec.readyAt === undefined ? 0 : Date.now() - spec.readyAt);
    spec.readyAt = undefined;
    const attempt = spec.restarts.attempts;
    log.warn({ process: name, attempt, delayMs: delay }, `${description}; restarting it`);
    setTimeout(() => {
      if (stopped) return;
      start(name, spec.args, spec.env).then(
        () => {
          spec.readyAt = Date.now();
        },
        (err: Error) => log.error({ process: name, err: err.message }, 'restart failed'),
      );
    }, delay);
  });

  /** The embedded server; restarted, like the feed and the manager, on its first port (clients have its URL). */
  const startDatabase = async (): Promise<string> => {
    const url = String((await start('db', ['db', ...dataDirArgs])).databaseUrl);
    restartOnExit('db', ['db', ...dataDirArgs, '--port', new URL(url).port]);
    return url;
  };

  let ha: HaCluster | undefined;
  /** The managers' names, in the order started (the second starts as the standby). */
  const managerNames: string[] = [];
  const stopAll = async () => {
    // SIGTERM would make a manager under a lease hand its replicas over to the other; SIGINT
    // stops them with it. All at once: after a fail-over either may be the active one, and the
    // standby's SIGINT ends its wait for the lease at once, long before the active one frees it.
    await Promise.all(managerNames.map((name) => group.stopOne(name, 'SIGINT')));
    await group.stop();
    if (ha) {
      removeRunFile(options.dataDir, 'manager');
      removeRunFile(options.dataDir, 'db');
      await ha.stop();
    }
  };
  /** The HA cluster: its members are Patroni's to restart; up only starts and stops them. */
  const startHa = async (): Promise<string> => {
    const { startHaCluster } = await import('../ha/ha-cluster.js');
    ha = await startHaCluster(options.dataDir, log);
    writeRunFile(options.dataDir, 'db', { databaseUrl: ha.databaseUrl });
    return ha.databaseUrl;
  };

  try {
    const databaseUrl = options.databaseUrl ?? (options.ha ? await startHa() : await startDatabase());
    await prepareDatabase(databaseUrl, options.dataDir);
    // The manager's replicas inherit the manager's environment, so this reaches them too.
    const metricsEnv = options.metrics ? { HEDGE_METRICS_PORT: '0', HEDGE_METRICS_HOST: '127.0.0.1' } : {};
    // Every feed has its own key pair (decision: issue 11, feeds) and the same seed and tick.
    const feedAddresses: string[] = [];
    const feedMetrics: string[] = [];
    for (const [i, port] of options.feedPorts.entries()) {
      const name = i === 0 ? 'feed' : `feed-${i + 1}`;
      const feedArgs = (p: number) => [
        'feed',
        ...dataDirArgs,
        '--name',
        name,
        '--port',
        String(p),
        ...options.feedArgs,
      ];
      const feed = await start(name, feedArgs(port), metricsEnv);
      feedMetrics.push(String(feed.metrics));
      feedAddresses.push(String(feed.address));
      restartOnExit(name, feedArgs(portOf(String(feed.address))), metricsEnv);
    }
    const feedList = feedAddresses.join(',');

    // The database URL carries a password: it goes through the environment, not argv.
    const managerEnv = { DATABASE_URL: databaseUrl, ...metricsEnv };
    // HA: two managers, one active through a lease in the cluster's etcd (decision: issue 11, managers).
    const managerPorts = ha ? await haManagerPorts(options.managerPort) : [options.managerPort];
    const lease = ha
      ? ['--lease', ha.layout.etcdUrls, '--peers', managerPorts.map((p) => `127.0.0.1:${p}`).join(',')]
      : [];
    const managerArgs = (port: number) => [
      'manager',
      ...dataDirArgs,
      '--port',
      String(port),
      '--owner-pid',
      String(process.pid),
      '--feed',
      feedList,
      ...lease,
      ...options.managerArgs,
    ];
    const managerAddresses: string[] = [];
    let manager: Awaited<ReturnType<typeof start>> | undefined;
    for (const [i, port] of managerPorts.entries()) {
      // The first holds the lease once ready (it adopted the replicas); the second is ready as a standby.
      const name = i === 0 ? 'manager' : `manager-${i + 1}`;
      managerNames.push(name);
      const ready = await start(name, managerArgs(port), managerEnv);
      manager ??= ready;
      managerAddresses.push(String(ready.address));
      restartOnExit(name, managerArgs(portOf(String(ready.address))), managerEnv);
    }
    if (!manager) throw new Error('no manager');
    // Several managers: the run file names all of them, under up's pid, whichever is active.
    if (managerAddresses.length > 1) {
      writeRunFile(options.dataDir, 'manager', {
        address: managerAddresses.join(','),
        ...(isInsecure() ? { insecure: 'true' } : {}),
      });
    }
    return {
      databaseUrl,
      feedAddress: feedList,
      managerAddress: managerAddresses.join(','),
      logDir: group.logDir,
      ...(options.metrics
        ? {
            metrics: {
              manager: String(manager.metrics),
              feed: feedMetrics.join(','),
              targetsDir: metricsTargetsDir(options.dataDir),
            },
          }
        : {}),
      failed,
      stop: () => {
        stopped = true;
        return stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// Shared with the HA cluster's restarts of its members (src/ha/ha-cluster.ts).
export { restartDelay, STEADY_MS };

/** The schema, before any replica runs, and the administrator (see common/admin.ts). */
async function prepareDatabase(databaseUrl: string, dataDir: string): Promise<void> {
  const pool = createPool(databaseUrl, { max: 1, applicationName: 'hedge-up' });
  try {
    await migrate(pool);
    await ensureAdministrator(pool, dataDir);
  } finally {
    await pool.end();
  }
}

/** Two manager ports known before either listens (clients are given both): `port` and `port + 2`, or two free ones. */
async function haManagerPorts(port: number): Promise<number[]> {
  const { freePort } = await import('../ha/ha-layout.js');
  if (port === 0) return [await freePort(), await freePort()];
  await assertPortFree('127.0.0.1', port + 2, '--manager-port');
  return [port, port + 2];
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}
