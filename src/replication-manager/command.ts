import { join } from 'node:path';
import { Command } from 'commander';
import { intOption } from '../common/cli-options.js';
import { withDatabaseOptions } from '../common/database-options.js';
import type { DedupStrategy } from '../common/dedup-strategy.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import { removeRunFile, writeRunFile } from '../common/run-files.js';
import {
  DATABASE_URL,
  DEDUP,
  FEED_ADDRESS,
  HEARTBEAT_INTERVAL,
  HEARTBEAT_MISSES,
  HEARTBEAT_TIMEOUT,
  ORDER_TTL,
  OWNER_PID,
  POOL,
  PROCESS_WATCH_INTERVAL,
  REJUVENATE_AGE,
  REJUVENATE_RSS,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  SPARES,
  settingOption,
} from '../common/settings.js';
import { isInsecure } from '../tls/transport.js';
import { acquireLeadership, type Leadership } from './leader-lease.js';

interface ManagerCliOptions {
  metricsPort?: number;
  metricsHost?: string;
  dataDir?: string;
  databaseUrl?: string;
  host: string;
  port: number;
  replicas: number;
  spares: number;
  rejuvenateRss?: number;
  rejuvenateAge?: number;
  min: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  heartbeatMisses: number;
  processWatchInterval: number;
  dedup: DedupStrategy;
  pool: number;
  allowFaultInjection?: boolean;
  ownerPid?: number;
  feed?: string;
  orderTtl: number;
  agents?: string;
  lease?: string;
  peers?: string;
}

export function managerCommand(): Command {
  return withDatabaseOptions(withMetricsOptions(new Command('manager')))
    .description(
      'Run the replication manager: spawns and supervises the replicas (exit, heartbeats that catch a hung ' +
        'process, client fault reports confirmed by its own probe), replaces faulty ones, and publishes the ' +
        'membership as a numbered view. A restarted manager adopts the replicas still running.',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .option('--replicas <n>', 'replicas to keep serving', intOption(1, 64), 3)
    .addOption(settingOption(SPARES))
    .addOption(settingOption(REJUVENATE_RSS))
    .addOption(settingOption(REJUVENATE_AGE))
    .option('--min <n>', 'floor for deliberate removals such as fault injection', intOption(1, 64), 2)
    .addOption(settingOption(HEARTBEAT_INTERVAL))
    .addOption(settingOption(HEARTBEAT_TIMEOUT))
    .addOption(settingOption(HEARTBEAT_MISSES))
    .addOption(settingOption(PROCESS_WATCH_INTERVAL))
    .addOption(settingOption({ ...DEDUP, description: "replicas' dedup strategy (see hedge replica)" }))
    .addOption(settingOption({ ...POOL, description: "each replica's database connections" }))
    .option('--allow-fault-injection', "let the fault injector's slowness calls reach the replicas")
    .addOption(
      settingOption({ ...ORDER_TTL, description: "replicas' window for a pending day-trading order" }),
    )
    .addOption(settingOption({ ...FEED_ADDRESS, description: "the stock feed, for the replicas' triggers" }))
    .option(
      '--agents <list>',
      'start replicas on several hosts through their agents (`hedge agent`): name=host:port,… ' +
        '(default: spawn them on this host)',
    )
    .option(
      '--lease <urls>',
      'be active only while holding the manager key in etcd under a lease (etcd client URLs, comma-separated): ' +
        'a second manager given the same --lease stands by, not listening, and takes over (adopting the ' +
        'replicas) when the lease ends, about 2 s after the active one dies; needs a --port. SIGTERM then ' +
        'hands over (the replicas run on and the lease is released at once); SIGINT stops the replicas too',
    )
    .option(
      '--peers <addresses>',
      "with --lease: every manager's address, comma-separated; the caller then writes the run file " +
        'clients read (`hedge up --ha` does)',
    )
    .addOption(
      settingOption({
        ...OWNER_PID,
        description: 'replicas exit when this process is gone (`hedge up` passes itself)',
      }),
    )
    .action(async (opts: ManagerCliOptions) => {
      const { runManager } = await import('./run-manager.js');
      const { registryPath } = await import('./registry.js');
      const { parseAgents } = await import('./agents.js');
      const log = createLogger('manager');
      const dataDir = resolveDataDir(opts.dataDir);
      const databaseUrl = await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir });
      const feed = await resolveSetting(FEED_ADDRESS, opts.feed, { dataDir });
      const metrics = await serveMetricsIfAsked(opts, log, { dataDir, component: 'manager', id: 'manager' });
      const agents = opts.agents === undefined ? undefined : parseAgents(opts.agents);
      let manager: Awaited<ReturnType<typeof runManager>> | undefined;
      let starting: ReturnType<typeof runManager> | undefined;
      let leadership: Leadership | undefined;
      const standingBy = new AbortController();
      // Under a lease SIGTERM hands over: the replicas go on serving, the lease is given up
      // at once, and the standby adopts them. SIGINT (Ctrl-C, `hedge up --ha` stopping the
      // whole system) and the loss of the lifeline stop the replicas too.
      const stopping = (how: 'stop' | 'handOver') => async () => {
        standingBy.abort();
        // A signal while runManager is adopting and spawning: those replicas are stopped
        // (or handed over) too, not left running without a manager.
        const running = manager ?? (await starting?.catch(() => undefined));
        if (running) {
          await running[how]();
          if (!opts.peers) removeRunFile(dataDir, 'manager');
        }
        await leadership?.release();
        await metrics?.close();
      };
      const stop = stopping('stop');
      if (opts.lease !== undefined && opts.port === 0)
        throw new Error('--lease needs a --port: clients know every manager before it is active');
      // A failed detach, registry write or lease revoke exits 1: the log says which.
      const stopFailed = (err: unknown) => log.error({ err }, 'stopping the manager failed');
      stopOnSignals(stop, stopFailed, opts.lease === undefined ? stop : stopping('handOver'));
      if (opts.lease !== undefined) {
        const address = `${opts.host}:${opts.port}`;
        leadership = await acquireLeadership({
          endpoints: opts.lease.split(',').map((u) => u.trim()),
          holder: address,
          log,
          signal: standingBy.signal,
          // Ready as a standby: it serves nothing until it holds the lease. One that wins at once is
          // ready, as without a lease, once it serves the adopted replicas.
          onStandby: () =>
            reportReady({ address, standby: true, ...(metrics ? { metrics: metrics.url } : {}) }),
          // Also called from `held`, when an action finds the lease past its bound.
          onLost: (why) => {
            // Another manager may be active already: no further spawn or kill from this one.
            log.error({ why }, 'lost the manager lease; exiting (the replicas run on, for the active one)');
            process.exit(1);
          },
        });
      }
      starting = runManager(
        {
          dataDir,
          databaseUrl,
          host: opts.host,
          port: opts.port,
          agents,
          replicas: opts.replicas,
          spares: opts.spares,
          rejuvenate: {
            maxRssBytes: opts.rejuvenateRss === undefined ? undefined : opts.rejuvenateRss * 1024 * 1024,
            maxAgeMs: opts.rejuvenateAge,
          },
          minimum: Math.min(opts.min, opts.replicas),
          heartbeatIntervalMs: opts.heartbeatInterval,
          heartbeatTimeoutMs: opts.heartbeatTimeout,
          heartbeatMisses: opts.heartbeatMisses,
          processWatchIntervalMs: opts.processWatchInterval,
          replica: {
            dedup: opts.dedup,
            pool: opts.pool,
            orderTtlMs: opts.orderTtl,
            feed,
            allowFaultInjection: opts.allowFaultInjection,
          },
          ownerPid: opts.ownerPid,
          mayAct: leadership ? () => leadership?.held() ?? false : undefined,
          registryPath: registryPath(dataDir),
          logDir: join(dataDir, 'logs'),
        },
        log,
      );
      manager = await starting;
      // Given its peers, the manager is one of several (`hedge up --ha`): their run file is the caller's.
      if (!opts.peers) {
        writeRunFile(dataDir, 'manager', {
          address: manager.address,
          ...(isInsecure() ? { insecure: 'true' } : {}),
        });
      }
      reportReady({ address: manager.address, ...(metrics ? { metrics: metrics.url } : {}) });
    });
}
