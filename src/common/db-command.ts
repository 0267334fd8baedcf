import { join } from 'node:path';
import { Command } from 'commander';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { reportReady, stopOnSignals } from './hedge-process.js';
import { createLogger } from './logger.js';
import { resolveDataDir } from './paths.js';

export function dbCommand(): Command {
  return new Command('db')
    .description(
      'Run the embedded PostgreSQL server (from the embedded-postgres package) with its cluster under <data-dir>/pg; ' +
        'prints the connection URL and stops the server on exit. `hedge up` runs this for you.',
    )
    .option('--data-dir <dir>', 'data directory (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--pg-stat-statements', 'load pg_stat_statements, to see where database time goes')
    .action(async (opts: { dataDir?: string; pgStatStatements?: boolean }) => {
      const log = createLogger('db');
      const db = await startEmbeddedPostgres(join(resolveDataDir(opts.dataDir), 'pg'), {
        log,
        statStatements: opts.pgStatStatements,
      });
      stopOnSignals(() => db.stop());
      process.stdout.write(`${JSON.stringify({ database_url: db.url })}\n`);
      reportReady({ databaseUrl: db.url, postgresPid: db.pid });
    });
}
