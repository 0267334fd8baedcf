import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { withDatabaseOptions } from './database-options.js';
import { DATABASE_URL, requireSetting, resolveDataDir } from './settings.js';

/**
 * `hedge admin`: the administrator account where no `hedge up` makes it (several
 * hosts, an existing database). The password file is the source of truth, as for
 * `up`: made (random, 0600) if absent, and the stored hash set to what it holds.
 */
export function adminCommand(): Command {
  return withDatabaseOptions(new Command('admin'))
    .description(
      'Make the administrator account `admin` (who alone may dump the whole audit log) or bring its password ' +
        'in line with its password file; migrates the schema first. `hedge up` does this at every start; ' +
        'run this once on a system started process by process (README: Several hosts).',
    )
    .option(
      '--password-file <path>',
      "the administrator's password, made with a random one if absent (default: <data-dir>/admin-password)",
    )
    .option('--reset', 'replace the password with a new random one first (the old one stops working)')
    .action(
      async (opts: { dataDir?: string; databaseUrl?: string; passwordFile?: string; reset?: boolean }) => {
        const { createPool } = await import('./database.js');
        const { migrate } = await import('./migrate.js');
        const { adminPasswordPath, ensureAdministrator } = await import('./admin.js');
        const dataDir = resolveDataDir(opts.dataDir);
        const url = await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir });
        const passwordFile = resolve(opts.passwordFile ?? adminPasswordPath(dataDir));
        const pool = createPool(url, { max: 1, applicationName: 'hedge-admin' });
        try {
          await migrate(pool);
          // Removed only once the database answers: a reset that cannot reach it keeps the old password.
          if (opts.reset) rmSync(passwordFile, { force: true });
          const { username } = await ensureAdministrator(pool, dataDir, passwordFile);
          process.stdout.write(
            `administrator ${username}: ${opts.reset ? 'new password' : 'password'} in ${passwordFile}\n`,
          );
        } finally {
          await pool.end();
        }
      },
    );
}
