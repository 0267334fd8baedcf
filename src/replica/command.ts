import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { choiceOption, defaulted, durationOption, intOption } from '../common/cli-options.js';
import { DEDUP_STRATEGIES, type DedupStrategy } from '../common/dedup-strategy.js';
import { reportReady, stopOnSignals, watchOwner } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { feedKeyPaths, resolveDataDir } from '../common/paths.js';
import { runFileValue } from '../common/run-files.js';

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
}

export function replicaCommand(): Command {
  return new Command('replica')
    .description(
      'Run one trading replica: the gRPC Trading service (plus grpc.health.v1 and reflection) over PostgreSQL. ' +
        'Stateless: any number of replicas may share one database.',
    )
    .option('--id <id>', 'replica id, written into logs, trades and the audit log (default: random)')
    .option(
      '--data-dir <dir>',
      'data directory, for the feed public key (default: $HEDGE_DATA_DIR or .hedge)',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL)')
    .option('--feed-key <path>', "the stock feed's public key (default: <data-dir>/feed/public.pem)")
    .option(
      '--dedup <strategy>',
      "'cache': copies of a request wait for the first and read its stored response; " +
        "'abort': every copy does the work and the losers roll back. " +
        'Every replica of one database must use the same strategy (the two take locks in opposite orders)',
      choiceOption(DEDUP_STRATEGIES),
      'cache',
    )
    .option('--pool <n>', 'database connections', intOption(1, 200), 10)
    .addOption(defaulted('--session-ttl <duration>', 'how long a login lasts', durationOption, '12h'))
    .addOption(
      defaulted(
        '--request-retention <duration>',
        'how long stored responses are kept',
        durationOption,
        '24h',
      ),
    )
    .addOption(
      defaulted(
        '--reap-interval <duration>',
        'how often old request-log entries are deleted',
        durationOption,
        '60s',
      ),
    )
    .addOption(
      defaulted(
        '--order-ttl <duration>',
        'how long a day-trading BUY or SELL stays pending',
        durationOption,
        '60s',
      ),
    )
    .option('--feed <address>', "the stock feed, whose ticks fire triggers (default: the running system's)")
    .option('--allow-fault-injection', "accept the fault injector's slowness calls (hedge.v1.ReplicaAdmin)")
    .option(
      '--owner-pid <pid>',
      'exit when this process is gone (the manager passes that of `hedge up`)',
      intOption(1),
    )
    .action(async (opts: ReplicaCliOptions) => {
      const { runReplica } = await import('./run-replica.js');
      const id = opts.id ?? `r-${randomBytes(3).toString('hex')}`;
      const log = createLogger('replica', { replica: id });
      const databaseUrl = opts.databaseUrl || process.env.DATABASE_URL;
      if (!databaseUrl) {
        throw new Error(
          'no database: pass --database-url or set DATABASE_URL (`hedge up` starts one for you)',
        );
      }
      const replica = await runReplica(
        {
          id,
          host: opts.host,
          port: opts.port,
          databaseUrl,
          feedPublicKeyPath: opts.feedKey ?? feedKeyPaths(resolveDataDir(opts.dataDir)).publicKey,
          strategy: opts.dedup,
          poolSize: opts.pool,
          sessionTtlSeconds: Math.floor(opts.sessionTtl / 1000),
          requestRetentionMs: opts.requestRetention,
          reapIntervalMs: opts.reapInterval,
          allowFaultInjection: opts.allowFaultInjection ?? false,
          orderTtlMs: opts.orderTtl,
          feedAddress: opts.feed ?? runFileValue(resolveDataDir(opts.dataDir), 'feed', 'address'),
        },
        log,
      );
      stopOnSignals(() => replica.stop());
      if (opts.ownerPid) {
        watchOwner(opts.ownerPid, () => {
          log.warn({ ownerPid: opts.ownerPid }, 'the owning process is gone; stopping');
          void replica.stop().finally(() => process.exit(0));
        });
      }
      reportReady({ address: replica.address, id });
    });
}
