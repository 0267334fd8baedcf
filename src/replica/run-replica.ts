import { createPool } from '../common/database.js';
import { readFeedPublicKey } from '../common/feed-key.js';
import { startGrpcServer } from '../common/grpc-server.js';
import type { Logger } from '../common/logger.js';
import { migrate } from '../common/migrate.js';
import { hedgeProto, PROTO_FILES } from '../common/proto.js';
import { type DedupStrategy, Executor } from './executor.js';
import { startReaper } from './reaper.js';
import { replicaAdminHandlers, Slowness } from './slowness.js';
import { tradingHandlers } from './trading-service.js';

export interface ReplicaOptions {
  id: string;
  host: string;
  port: number;
  databaseUrl: string;
  feedPublicKeyPath: string;
  strategy: DedupStrategy;
  poolSize: number;
  sessionTtlSeconds: number;
  requestRetentionMs: number;
  reapIntervalMs: number;
  /** Serve ReplicaAdmin's fault-injection calls instead of refusing them. */
  allowFaultInjection: boolean;
}

export interface RunningReplica {
  address: string;
  stop(): Promise<void>;
}

export async function runReplica(options: ReplicaOptions, log: Logger): Promise<RunningReplica> {
  const feedKey = readFeedPublicKey(options.feedPublicKeyPath);
  const pool = createPool(options.databaseUrl, {
    max: options.poolSize,
    applicationName: `hedge-replica-${options.id}`,
  });
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  const executor = new Executor(pool, options.id, options.strategy);
  const slowness = new Slowness();
  const started = await startGrpcServer(
    options.host,
    options.port,
    (server) => {
      server.addService(
        hedgeProto().Trading.service,
        tradingHandlers({
          executor,
          feedKey,
          log,
          sessionTtlSeconds: options.sessionTtlSeconds,
          beforeCall: () => slowness.apply(),
        }),
      );
      server.addService(
        hedgeProto().ReplicaAdmin.service,
        replicaAdminHandlers(slowness, options.allowFaultInjection, log),
      );
    },
    {
      services: ['hedge.v1.Trading', 'hedge.v1.ReplicaAdmin'],
      protoFiles: [PROTO_FILES.trading, PROTO_FILES.replicaAdmin],
    },
  );
  const reaper = startReaper(pool, options.requestRetentionMs, options.reapIntervalMs, log);
  log.info(
    { address: started.address, strategy: options.strategy, feedKeyId: feedKey.keyId },
    'replica serving',
  );
  return {
    address: started.address,
    stop: async () => {
      reaper.stop();
      await started.shutdown();
      await pool.end();
      log.info('replica stopped');
    },
  };
}
