import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { defaulted, intOption, positiveDurationOption } from '../common/cli-options.js';
import type { DedupStrategy } from '../common/dedup-strategy.js';
import { reportReady, stopOnSignals, watchOwner } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import { trustedFeedKeysDir } from '../common/paths.js';
import {
  DATA_DIR,
  DATABASE_URL,
  DEDUP,
  FEED_ADDRESS,
  ORDER_TTL,
  OWNER_PID,
  POOL,
  REAP_INTERVAL,
  REQUEST_RETENTION,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  SESSION_TTL,
  settingOption,
} from '../common/settings.js';
import { DEFAULT_SESSION_RATE } from './session-rate-limit.js';
import { DEFAULT_SIGN_IN_LIMITS } from './sign-in-throttle.js';

interface ReplicaCliOptions {
  id?: string;
  dataDir?: string;
  host: string;
  port: number;
  databaseUrl?: string;
  feedKey?: string;
  dedup: DedupStrategy;
  pool: number;
  sessionTtl: number;
  requestRetention: number;
  reapInterval: number;
  allowFaultInjection?: boolean;
  ownerPid?: number;
  feed?: string;
  orderTtl: number;
  sessionRate: number;
  signInDelay: number;
  metricsPort?: number;
  metricsHost?: string;
}

export function replicaCommand(): Command {
  return withMetricsOptions(new Command('replica'))
    .description(
      'Run one trading replica: the gRPC Trading service (plus grpc.health.v1 and reflection) over PostgreSQL. ' +
        'Stateless: any number of replicas may share one database.',
    )
    .option('--id <id>', 'replica id, written into logs, trades and the audit log (default: random)')
    .addOption(settingOption({ ...DATA_DIR, description: 'data directory, for the feed public key' }))
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .addOption(settingOption(DATABASE_URL))
    .option(
      '--feed-key <path>',
      "a stock feed's public key, or a directory of the keys of every feed trusted (*.pem); quotes signed by " +
        'any other key are refused (default: <data-dir>/feed-keys, where the feeds of the data directory put theirs)',
    )
    .addOption(settingOption(DEDUP))
    .addOption(settingOption(POOL))
    .addOption(settingOption(SESSION_TTL))
    .addOption(settingOption(REQUEST_RETENTION))
    .addOption(settingOption(REAP_INTERVAL))
    .addOption(settingOption(ORDER_TTL))
    .addOption(
      settingOption({
        ...FEED_ADDRESS,
        description: 'the stock feeds (comma-separated), whose ticks fire triggers',
      }),
    )
    .option('--allow-fault-injection', "accept the fault injector's slowness calls (hedge.v1.ReplicaAdmin)")
    .addOption(
      defaulted(
        '--session-rate <n>',
        'calls per second one session may make to this replica (0: no limit); more get RESOURCE_EXHAUSTED',
        intOption(0),
        String(DEFAULT_SESSION_RATE.perSecond),
      ),
    )
    .addOption(
      defaulted(
        '--sign-in-delay <duration>',
        "the first wait after a username's free failed sign-ins; each further failure doubles it",
        positiveDurationOption,
        `${DEFAULT_SIGN_IN_LIMITS.baseDelayMs / 1000}s`,
      ),
    )
    .addOption(
      settingOption({
        ...OWNER_PID,
        description: `${OWNER_PID.description} (the manager passes that of \`hedge up\`)`,
      }),
    )
    .action(async (opts: ReplicaCliOptions) => {
      const { runReplica } = await import('./run-replica.js');
      const id = opts.id ?? `r-${randomBytes(3).toString('hex')}`;
      const log = createLogger('replica', { replica: id });
      const dataDir = resolveDataDir(opts.dataDir);
      const databaseUrl = await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir });
      const metrics = await serveMetricsIfAsked(opts, log, { dataDir, component: 'replica', id });
      const replica = await runReplica(
        {
          id,
          host: opts.host,
          port: opts.port,
          databaseUrl,
          feedPublicKeyPath: opts.feedKey ?? trustedFeedKeysDir(dataDir),
          strategy: opts.dedup,
          poolSize: opts.pool,
          sessionTtlSeconds: Math.floor(opts.sessionTtl / 1000),
          requestRetentionMs: opts.requestRetention,
          reapIntervalMs: opts.reapInterval,
          allowFaultInjection: opts.allowFaultInjection ?? false,
          orderTtlMs: opts.orderTtl,
          feedAddress: await resolveSetting(FEED_ADDRESS, opts.feed, { dataDir }),
          sessionRate:
            opts.sessionRate === 0 ? null : { perSecond: opts.sessionRate, burst: opts.sessionRate },
          signInLimits: { ...DEFAULT_SIGN_IN_LIMITS, baseDelayMs: opts.signInDelay },
        },
        log,
      );
      const stop = async () => {
        await replica.stop();
        await metrics?.close();
      };
      stopOnSignals(stop);
      if (opts.ownerPid) {
        watchOwner(opts.ownerPid, () => {
          log.warn({ ownerPid: opts.ownerPid }, 'the owning process is gone; stopping');
          void stop().finally(() => process.exit(0));
        });
      }
      reportReady({ address: replica.address, id, ...(metrics ? { metrics: metrics.url } : {}) });
    });
}
