import { Command } from 'commander';
import {
  DATA_DIR,
  MANAGER_ADDRESS,
  requireSetting,
  resolveDataDir,
  settingOption,
} from '../common/settings.js';

export function statusCommand(): Command {
  return new Command('status')
    .description(
      "Show whether the database is up (as the manager sees it) and the replication manager's replicas: " +
        'id, pid, address, state, uptime, restarts, last fault and its cause.',
    )
    .addOption(settingOption({ ...DATA_DIR, description: 'data directory of the running system' }))
    .addOption(settingOption(MANAGER_ADDRESS))
    .option('--json', 'print the status as JSON')
    .action(async (opts: { dataDir?: string; manager?: string; json?: boolean }) => {
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { formatReplicaTable, formatSummary } = await import('../ui/status-view.js');
      const { formatHostTable } = await import('../ui/host-view.js');
      const address = await requireSetting(MANAGER_ADDRESS, opts.manager, {
        dataDir: resolveDataDir(opts.dataDir),
      });
      const status = await fetchStatusFrom(address, 3_000);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(status, null, 2)}\n`
          : `${formatSummary(status)}\n\n${formatReplicaTable(status)}\n${
              status.hosts.length > 0 ? `\n${formatHostTable(status)}\n` : ''
            }`,
      );
    });
}
