import { createPool } from '../common/database.js';
import { DatabaseWatch } from '../common/database-watch.js';
import type { DedupStrategy } from '../common/dedup-strategy.js';
import { readTrustedFeedKeys } from '../common/feed-key.js';
import { startGrpcServer } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { migrate } from '../common/migrate.js';
import { reportPool } from '../common/pool-metrics.js';
import { hedgeProto, PROTO_FILES } from '../common/proto.js';
import { AccountReads } from './account-reads.js';
import { AuditReads } from './audit-reads.js';
import { dayTradingHandlers } from './day-trading-service.js';
import { Executor } from './executor.js';
import { orderSweeperJob } from './order-sweeper.js';
import { startPeriodicJob } from './periodic-job.js';
import { QuoteVerifier } from './quote-verifier.js';
import { reaperJob } from './reaper.js';
import { type SessionRate, SessionRateLimiter } from './session-rate-limit.js';
import type { SignInLimits } from './sign-in-throttle.js';
import { replicaAdminHandlers, Slowness } from './slowness.js';
import { tradingHandlers } from './trading-service.js';
import { TriggerFiring } from './trigger-firing.js';
import { TriggerWatcher } from './trigger-watcher.js';
import { warmUp } from './warm-up.js';

export interface ReplicaOptions {
  id: string;
  host: string;
  port: number;
  databaseUrl: string;
  /** A feed's public key, or a directory of the public keys of every feed trusted (*.pem). */
  feedPublicKeyPath: string;
  strategy: DedupStrategy;
  poolSize: number;
  sessionTtlSeconds: number;
  requestRetentionMs: number;
  reapIntervalMs: number;
  /** Serve ReplicaAdmin's fault-injection calls instead of refusing them. */
  allowFaultInjection: boolean;
  /** The stock feeds (comma-separated), whose ticks fire triggers; without them no trigger fires on this replica. */
  feedAddress?: string;
  orderSweepIntervalMs?: number;
  orderTtlMs?: number;
  /** Calls per session per second (default DEFAULT_SESSION_RATE); null: no limit. */
  sessionRate?: SessionRate | null;
  signInLimits?: SignInLimits;
}

export interface RunningReplica {
  address: string;
  stop(): Promise<void>;
}

export async function runReplica(options: ReplicaOptions, log: Logger): Promise<RunningReplica> {
  const feedKeys = readTrustedFeedKeys(options.feedPublicKeyPath);
  const pool = createPool(options.databaseUrl, {
    max: options.poolSize,
    min: options.poolSize,
    applicationName: `hedge-replica-${options.id}`,
  });
  try {
    await migrate(pool);
    await warmUp(pool, options.poolSize);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const stopReportingPool = reportPool('requests', pool);
  const executor = new Executor(pool, options.id, options.strategy);
  const slowness = new Slowness();
  const quotes = new QuoteVerifier(feedKeys);
  const deps = {
    executor,
    accounts: new AccountReads(pool),
    audit: new AuditReads(pool),
    quotes,
    log,
    sessionTtlSeconds: options.sessionTtlSeconds,
    orderTtlMs: options.orderTtlMs,
    beforeCall: () => slowness.apply(),
    sessionRate: options.sessionRate === null ? undefined : new SessionRateLimiter(options.sessionRate),
    signInLimits: options.signInLimits,
  };
  const started = await startGrpcServer(
    options.host,
    options.port,
    (server) => {
      server.addService(hedgeProto().Trading.service, tradingHandlers(deps));
      server.addService(hedgeProto().DayTrading.service, dayTradingHandlers(deps));
      server.addService(
        hedgeProto().ReplicaAdmin.service,
        replicaAdminHandlers(slowness, options.allowFaultInjection, log),
      );
    },
    {
      services: ['hedge.v1.Trading', 'hedge.v1.DayTrading', 'hedge.v1.ReplicaAdmin'],
      protoFiles: [PROTO_FILES.trading, PROTO_FILES.dayTrading, PROTO_FILES.replicaAdmin],
    },
  );
  // Without the database every call fails: health says so, for the manager and clients to see.
  const database = new DatabaseWatch(
    options.databaseUrl,
    { applicationName: `hedge-replica-${options.id}-health` },
    (reachable) => started.setServing(reachable),
    log,
  ).start();
  const jobs = [
    startPeriodicJob(pool, reaperJob(options.requestRetentionMs, log), options.reapIntervalMs, log),
    startPeriodicJob(pool, orderSweeperJob(options.id, log), options.orderSweepIntervalMs ?? 5_000, log),
  ];
  const triggers = options.feedAddress
    ? new TriggerWatcher(new TriggerFiring(pool, options.id), options.feedAddress, quotes, log, undefined, {
        url: options.databaseUrl,
        applicationName: `hedge-replica-${options.id}-triggers`,
      })
    : undefined;
  triggers?.start();
  if (!triggers) log.warn('no --feed: triggers will not fire on this replica');
  log.info(
    { address: started.address, strategy: options.strategy, feedKeyIds: feedKeys.map((k) => k.keyId) },
    'replica serving',
  );
  return {
    address: started.address,
    stop: async () => {
      await database.stop();
      for (const job of jobs) job.stop();
      triggers?.stop();
      await started.shutdown();
      stopReportingPool();
      await pool.end();
      log.info('replica stopped');
    },
  };
}
