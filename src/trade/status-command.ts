import { Command } from 'commander';
import { withRunningSystemOptions } from '../common/running-system-options.js';
import {
  DATABASE_URL,
  MANAGER_ADDRESS,
  requireSetting,
  resolveDataDir,
  resolveSetting,
} from '../common/settings.js';

export function statusCommand(): Command {
  return withRunningSystemOptions(
    new Command('status').description(
      "Show whether the database is up (as the manager sees it) and the replication manager's replicas: " +
        'id, pid, address, state, uptime, restarts, last fault and its cause; for a database of several nodes ' +
        '(`hedge up --ha`), each node and which is the primary.',
    ),
    MANAGER_ADDRESS,
    DATABASE_URL,
  )
    .option('--json', 'print the status as JSON')
    .action(async (opts: { dataDir?: string; manager?: string; databaseUrl?: string; json?: boolean }) => {
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { formatReplicaTable, formatSummary } = await import('../ui/status-view.js');
      const dataDir = resolveDataDir(opts.dataDir);
      const address = await requireSetting(MANAGER_ADDRESS, opts.manager, { dataDir });
      const { formatHostTable } = await import('../ui/host-view.js');
      const status = await fetchStatusFrom(address, 3_000);
      const databaseNodes = await replicatedDatabaseNodes(
        await resolveSetting(DATABASE_URL, opts.databaseUrl, { dataDir }),
      );
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ ...status, ...(databaseNodes && { databaseNodes }) }, null, 2)}\n`,
        );
        return;
      }
      const { formatDatabaseNodes } = await import('../ui/database-nodes-view.js');
      process.stdout.write(
        `${formatSummary(status)}\n\n${formatReplicaTable(status)}\n` +
          (status.hosts.length > 0 ? `\n${formatHostTable(status)}\n` : '') +
          (databaseNodes ? `\n${formatDatabaseNodes(databaseNodes)}\n` : ''),
      );
    });
}

/** Each node's role, when the database has several nodes (a single server is the manager's "database up"). */
async function replicatedDatabaseNodes(url: string | undefined) {
  if (!url) return undefined;
  const { isMultiHost } = await import('../common/database-nodes.js');
  if (!isMultiHost(url)) return undefined;
  const { nodeRoles } = await import('../common/primary-pool.js');
  return nodeRoles(url);
}
