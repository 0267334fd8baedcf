import { Command } from 'commander';
import { intOption } from '../common/cli-options.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { resolveDataDir } from '../common/paths.js';

interface UpCliOptions {
  dataDir?: string;
  databaseUrl?: string;
  feedPort: number;
  replicaPort: number;
  seed?: string;
  fixedPrices?: boolean;
}

export function upCommand(): Command {
  return new Command('up')
    .description(
      'Run the whole system locally: embedded PostgreSQL (unless --database-url/$DATABASE_URL), the stock feed and ' +
        'the trading replica. Ctrl-C or SIGTERM stops every process it started; logs go to <data-dir>/logs/.',
    )
    .option('--data-dir <dir>', 'data directory (default: $HEDGE_DATA_DIR or .hedge)')
    .option(
      '--database-url <url>',
      'use this PostgreSQL server instead of the embedded one (default: $DATABASE_URL)',
    )
    .option('--feed-port <port>', 'stock feed port (0 picks a free one)', intOption(0, 65535), 50550)
    .option('--replica-port <port>', 'trading replica port (0 picks a free one)', intOption(0, 65535), 50551)
    .option('--seed <n>', 'price random-walk seed')
    .option('--fixed-prices', 'never move prices (reproducible runs)')
    .action(async (opts: UpCliOptions) => {
      const { runUp } = await import('./run-up.js');
      const log = createLogger('up');
      const dataDir = resolveDataDir(opts.dataDir);
      const system = await runUp(
        {
          dataDir,
          databaseUrl: opts.databaseUrl || process.env.DATABASE_URL || undefined,
          feedPort: opts.feedPort,
          replicaPort: opts.replicaPort,
          feedArgs: [
            ...(opts.seed ? ['--seed', opts.seed] : []),
            ...(opts.fixedPrices ? ['--mode', 'fixed'] : []),
          ],
        },
        log,
      );
      stopOnSignals(() => system.stop());
      process.stdout.write(
        [
          '',
          'hedge is up',
          `  trading replica  ${system.replicaAddress}`,
          `  stock feed       ${system.feedAddress}`,
          `  database         ${system.databaseUrl.replace(/:[^:@/]+@/, ':***@')}`,
          `  logs             ${system.logDir}`,
          'Ctrl-C stops everything.',
          '',
        ].join('\n'),
      );
      reportReady({ replicaAddress: system.replicaAddress, feedAddress: system.feedAddress });
      const failure = await system.failed;
      log.error({ failure }, 'a process of the system died; stopping everything');
      await system.stop();
      process.exit(1);
    });
}
