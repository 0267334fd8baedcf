import type { Command } from 'commander';
import { DATA_DIR, DATABASE_URL, type Setting, settingOption } from './settings.js';

/**
 * Adds the options of a command that works in its own data directory over the
 * database: --data-dir, then the database URL (`databaseUrl`: `up` has its own,
 * whose fallback is the embedded server rather than a run file).
 */
export function withDatabaseOptions(command: Command, databaseUrl: Setting<string> = DATABASE_URL): Command {
  return command.addOption(settingOption(DATA_DIR)).addOption(settingOption(databaseUrl));
}
