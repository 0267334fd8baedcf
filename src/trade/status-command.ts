import { Command } from 'commander';
import { resolveDataDir } from '../common/paths.js';
import { locate } from '../common/run-files.js';

export function statusCommand(): Command {
  return new Command('status')
    .description(
      "Show whether the database is up (as the manager sees it) and the replication manager's replicas: " +
        'id, pid, address, state, uptime, restarts, last fault and its cause.',
    )
    .option('--data-dir <dir>', 'data directory of the running system (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--manager <address>', "the manager's address (default: the running system's)")
    .option('--json', 'print the status as JSON')
    .action(async (opts: { dataDir?: string; manager?: string; json?: boolean }) => {
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { formatReplicaTable, formatSummary } = await import('../ui/status-view.js');
      const address = await locate(
        opts.manager,
        resolveDataDir(opts.dataDir),
        'manager',
        'address',
        '--manager',
      );
      const status = await fetchStatusFrom(address, 3_000);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(status, null, 2)}\n`
          : `${formatSummary(status)}\n\n${formatReplicaTable(status)}\n`,
      );
    });
}
