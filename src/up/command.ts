import { join } from 'node:path';
import { Command } from 'commander';
import { heartbeatArgs, intOption } from '../common/cli-options.js';
import { withDatabaseOptions } from '../common/database-options.js';
import { formatDuration } from '../common/duration.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { lockDataDir } from '../common/owner-lock.js';
import { removeRunFile, writeRunFile } from '../common/run-files.js';
import {
  DATABASE_URL,
  DEDUP,
  HEARTBEAT_INTERVAL,
  HEARTBEAT_TIMEOUT,
  REJUVENATE_AGE,
  REJUVENATE_RSS,
  resolveDataDir,
  resolveSetting,
  type Setting,
  SPARES,
  settingOption,
} from '../common/settings.js';
import { assertPortFree } from './free-port.js';
import { metricsLine } from './metrics-line.js';

/**
 * Below Linux's ephemeral range (32768–60999), where an outgoing connection may
 * hold any port, and clear of well-known services.
 */
export const DEFAULT_FEED_PORT = 27550;
export const DEFAULT_MANAGER_PORT = 27551;
/** Where the feed and the manager listen (their --host default). */
const LISTEN_HOST = '127.0.0.1';

/**
 * up's database: a URL given by flag or environment, else the embedded server it
 * starts itself (its "default"). No run file: up is what writes the db run file,
 * and owns its data directory, so there is no other running system's to find.
 */
const UP_DATABASE_URL: Setting<string> = {
  ...DATABASE_URL,
  description: 'use this PostgreSQL server instead of the embedded one',
  runFile: undefined,
};

interface UpCliOptions {
  dataDir?: string;
  databaseUrl?: string;
  feedPort: number;
  feeds: number;
  managerPort: number;
  replicas: number;
  spares: number;
  rejuvenateRss?: number;
  rejuvenateAge?: number;
  min: number;
  dedup: string;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  allowFaultInjection?: boolean;
  seed?: string;
  fixedPrices?: boolean;
  metrics: boolean;
  ha?: boolean;
}

export function upCommand(): Command {
  return withDatabaseOptions(new Command('up'), UP_DATABASE_URL)
    .description(
      'Run the whole system locally: embedded PostgreSQL (unless --database-url/$DATABASE_URL), the stock feed, ' +
        'and the replication manager with its replicas, with a live status view. Ctrl-C or SIGTERM stops every ' +
        'process it started; so does its own death, by any signal. Logs go to <data-dir>/logs/.',
    )
    .option(
      '--feed-port <port>',
      'stock feed port (0 picks a free one)',
      intOption(0, 65535),
      DEFAULT_FEED_PORT,
    )
    .option(
      '--feeds <n>',
      'stock feeds to run, each with its own key; the n-th listens on --feed-port + 2(n-1)',
      intOption(1, 8),
      2,
    )
    .option(
      '--manager-port <port>',
      'replication manager port (0 picks a free one)',
      intOption(0, 65535),
      DEFAULT_MANAGER_PORT,
    )
    .option('--replicas <n>', 'replicas to keep serving', intOption(1, 64), 3)
    .addOption(settingOption(SPARES))
    .addOption(settingOption(REJUVENATE_RSS))
    .addOption(settingOption(REJUVENATE_AGE))
    .option('--min <n>', 'fewest replicas fault injection may leave', intOption(1, 64), 2)
    .addOption(settingOption({ ...DEDUP, description: "replicas' dedup strategy" }))
    .addOption(settingOption(HEARTBEAT_INTERVAL))
    .addOption(settingOption(HEARTBEAT_TIMEOUT))
    .option(
      '--allow-fault-injection',
      'let `hedge inject` slow replicas down (crash and hang need no permission)',
    )
    .option('--seed <n>', 'price random-walk seed')
    .option('--fixed-prices', 'never move prices (reproducible runs)')
    .option(
      '--no-metrics',
      'serve no Prometheus metrics (by default every process serves them on a loopback port)',
    )
    .option(
      '--ha',
      'instead of the embedded PostgreSQL, a Patroni cluster of three PostgreSQL 15 nodes (strict synchronous ' +
        'replication) over three etcd members, under <data-dir>/ha (needs `npm run setup:ha`)',
    )
    .action(async (opts: UpCliOptions) => {
      const { runUp } = await import('./run-up.js');
      const dataDir = resolveDataDir(opts.dataDir);
      // Before anything is touched: a second `up` on a running system's directory would wreck it.
      lockDataDir(dataDir, 'hedge up');
      const feedPorts = Array.from({ length: opts.feeds }, (_, i) =>
        opts.feedPort === 0 ? 0 : opts.feedPort + 2 * i,
      );
      for (const port of feedPorts) await assertPortFree(LISTEN_HOST, port, '--feed-port');
      await assertPortFree(LISTEN_HOST, opts.managerPort, '--manager-port');
      // With the live view on the terminal, up's own log lines go to a file beside the others'.
      const log = createLogger('up', {}, process.stdout.isTTY ? join(dataDir, 'logs', 'up.log') : undefined);
      const databaseUrl = await resolveSetting(UP_DATABASE_URL, opts.databaseUrl);
      if (opts.ha && databaseUrl)
        throw new Error('--ha starts its own database: drop --database-url/$DATABASE_URL');
      const system = await runUp(
        {
          dataDir,
          databaseUrl,
          ha: opts.ha,
          feedPorts,
          managerPort: opts.managerPort,
          metrics: opts.metrics,
          // Any well-formed symbol is quoted, as the SEng 468 quote server did: workloads name hundreds.
          feedArgs: [
            '--any-symbol',
            ...(opts.seed ? ['--seed', opts.seed] : []),
            ...(opts.fixedPrices ? ['--mode', 'fixed'] : []),
          ],
          managerArgs: [
            '--replicas',
            String(opts.replicas),
            '--spares',
            String(opts.spares),
            ...(opts.rejuvenateRss ? ['--rejuvenate-rss', String(opts.rejuvenateRss)] : []),
            ...(opts.rejuvenateAge ? ['--rejuvenate-age', formatDuration(opts.rejuvenateAge)] : []),
            '--min',
            String(opts.min),
            '--dedup',
            opts.dedup,
            ...heartbeatArgs(opts),
            ...(opts.allowFaultInjection ? ['--allow-fault-injection'] : []),
          ],
        },
        log,
      );
      const view = process.stdout.isTTY
        ? (await import('./live-view.js')).startLiveView(system, process.stdout)
        : undefined;
      if (!view) {
        process.stdout.write(
          `hedge is up: manager ${system.managerAddress}, feeds ${system.feedAddress}, logs ${system.logDir}\n`,
        );
        if (system.metrics) process.stdout.write(`${metricsLine(system.metrics)}\n`);
      }
      // Clients and replicas started by hand find every feed here (the --feed setting's run file).
      writeRunFile(dataDir, 'feeds', { addresses: system.feedAddress });
      stopOnSignals(async () => {
        view?.stop();
        await system.stop();
        removeRunFile(dataDir, 'feeds');
      });
      reportReady({
        managerAddress: system.managerAddress,
        feedAddress: system.feedAddress,
        ...(system.metrics ? { metrics: system.metrics } : {}),
      });
      const failure = await system.failed;
      view?.stop();
      log.error({ failure }, 'a process the system cannot do without died; stopping everything');
      await system.stop();
      removeRunFile(dataDir, 'feeds');
      process.exit(1);
    });
}
