import { Command } from 'commander';
import { withRunningSystemOptions } from '../common/running-system-options.js';
import { DATABASE_URL, requireSetting, resolveDataDir } from '../common/settings.js';

export function verifyCommand(): Command {
  return withRunningSystemOptions(
    new Command('verify').description(
      'Check the database after any run: no request id has more than one effect, the ledger reproduces every ' +
        'cash and share balance, nothing is negative, every acknowledged trade has its effect. ' +
        'Exits non-zero on any violation.',
    ),
    DATABASE_URL,
  )
    .option('--json', 'print {"requests","effects","duplicate_effects","violations"} as JSON')
    .action(async (opts: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
      const { createPool } = await import('../common/database.js');
      const { formatReport, verifyDatabase } = await import('../common/verify-database.js');
      const url = await requireSetting(DATABASE_URL, opts.databaseUrl, {
        dataDir: resolveDataDir(opts.dataDir),
      });
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
