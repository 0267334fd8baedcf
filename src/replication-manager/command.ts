import { join } from 'node:path';
import { Command } from 'commander';
import { choiceOption, defaulted, durationOption, intOption } from '../common/cli-options.js';
import { DEDUP_STRATEGIES, type DedupStrategy } from '../common/dedup-strategy.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { resolveDataDir } from '../common/paths.js';
import { locate, removeRunFile, runFileValue, writeRunFile } from '../common/run-files.js';

interface ManagerCliOptions {
  dataDir?: string;
  databaseUrl?: string;
  host: string;
  port: number;
  replicas: number;
  min: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  heartbeatMisses: number;
  dedup: DedupStrategy;
  pool: number;
  allowFaultInjection?: boolean;
  ownerPid?: number;
  feed?: string;
  orderTtl?: number;
}

export function managerCommand(): Command {
  return new Command('manager')
    .description(
      'Run the replication manager: spawns and supervises the replicas (exit, heartbeats that catch a hung ' +
        'process, client fault reports confirmed by its own probe), replaces faulty ones, and publishes the ' +
        'membership as a numbered view. A restarted manager adopts the replicas still running.',
    )
    .option('--data-dir <dir>', 'data directory (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL, else the running `hedge db`)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .option('--replicas <n>', 'replicas to keep serving', intOption(1, 64), 3)
    .option('--min <n>', 'floor for deliberate removals such as fault injection', intOption(1, 64), 2)
    .addOption(
      defaulted(
        '--heartbeat-interval <duration>',
        'time between health checks of a replica',
        durationOption,
        '100ms',
      ),
    )
    .addOption(
      defaulted(
        '--heartbeat-timeout <duration>',
        'how long a health check may take',
        durationOption,
        '250ms',
      ),
    )
    .option(
      '--heartbeat-misses <n>',
      'failed health checks in a row that make a replica faulty',
      intOption(1, 100),
      1,
    )
    .option(
      '--dedup <strategy>',
      "replicas' dedup strategy (see hedge replica)",
      choiceOption(DEDUP_STRATEGIES),
      'cache',
    )
    .option('--pool <n>', "each replica's database connections", intOption(1, 200), 10)
    .option('--allow-fault-injection', "let the fault injector's slowness calls reach the replicas")
    .option(
      '--order-ttl <duration>',
      "replicas' window for a pending day-trading order (default 60s)",
      durationOption,
    )
    .option('--feed <address>', "the stock feed, for the replicas' triggers (default: the running system's)")
    .option(
      '--owner-pid <pid>',
      'replicas exit when this process is gone (`hedge up` passes itself)',
      intOption(1),
    )
    .action(async (opts: ManagerCliOptions) => {
      const { runManager } = await import('./run-manager.js');
      const { registryPath } = await import('./registry.js');
      const log = createLogger('manager');
      const dataDir = resolveDataDir(opts.dataDir);
      const databaseUrl = await locate(
        opts.databaseUrl || process.env.DATABASE_URL,
        dataDir,
        'db',
        'databaseUrl',
        '--database-url',
      );
      const feed = opts.feed ?? runFileValue(dataDir, 'feed', 'address');
      const manager = await runManager(
        {
          dataDir,
          databaseUrl,
          host: opts.host,
          port: opts.port,
          replicas: opts.replicas,
          minimum: Math.min(opts.min, opts.replicas),
          heartbeatIntervalMs: opts.heartbeatInterval,
          heartbeatTimeoutMs: opts.heartbeatTimeout,
          heartbeatMisses: opts.heartbeatMisses,
          replicaArgs: [
            '--dedup',
            opts.dedup,
            '--pool',
            String(opts.pool),
            ...(opts.allowFaultInjection ? ['--allow-fault-injection'] : []),
            ...(feed ? ['--feed', feed] : []),
            ...(opts.orderTtl ? ['--order-ttl', String(opts.orderTtl)] : []),
          ],
          ownerPid: opts.ownerPid,
          registryPath: registryPath(dataDir),
          logDir: join(dataDir, 'logs'),
        },
        log,
      );
      writeRunFile(dataDir, 'manager', { address: manager.address });
      stopOnSignals(async () => {
        await manager.stop();
        removeRunFile(dataDir, 'manager');
      });
      reportReady({ address: manager.address });
    });
}
