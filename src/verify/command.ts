import { Command } from 'commander';
import { resolveDataDir } from '../common/paths.js';
import { locate } from '../common/run-files.js';

export function verifyCommand(): Command {
  return new Command('verify')
    .description(
      'Check the database after any run: no request id has more than one effect, the ledger reproduces every ' +
        'cash and share balance, nothing is negative, every acknowledged trade has its effect. ' +
        'Exits non-zero on any violation.',
    )
    .option('--data-dir <dir>', 'data directory of the running system (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--database-url <url>', 'PostgreSQL URL (default: $DATABASE_URL, else the running system)')
    .option('--json', 'print {"requests","effects","duplicate_effects","violations"} as JSON')
    .action(async (opts: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
      const { createPool } = await import('../common/database.js');
      const { formatReport, verifyDatabase } = await import('../common/verify-database.js');
      const url = await locate(
        opts.databaseUrl || process.env.DATABASE_URL,
        resolveDataDir(opts.dataDir),
        'db',
        'databaseUrl',
        '--database-url',
      );
      const pool = createPool(url, { max: 1, applicationName: 'hedge-verify' });
      try {
        const report = await verifyDatabase(pool);
        process.stdout.write(opts.json ? `${JSON.stringify(report)}\n` : formatReport(report));
        process.exitCode = report.violations.length > 0 ? 1 : 0;
      } finally {
        await pool.end();
      }
    });
}
