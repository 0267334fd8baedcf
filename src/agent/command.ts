import { join } from 'node:path';
import { Command } from 'commander';
import { intOption } from '../common/cli-options.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { DATA_DIR, DATABASE_URL, requireSetting, resolveDataDir, settingOption } from '../common/settings.js';

interface AgentCliOptions {
  name: string;
  host: string;
  port: number;
  replicaHost?: string;
  dataDir?: string;
  databaseUrl?: string;
}

export function agentCommand(): Command {
  return new Command('agent')
    .description(
      "Run a host agent: the replication manager's hands on this host. It starts, stops and signals the " +
        "replicas here at the manager's request and reports their exits and process state at once; they keep " +
        'running when the manager (or the agent) goes away, and a restarted manager adopts them.',
    )
    .requiredOption('--name <name>', "this host's name, as the manager's --agents list names it")
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .option(
      '--replica-host <host>',
      'address the replicas listen on and advertise to clients and the manager (default: --host)',
    )
    .addOption(settingOption({ ...DATA_DIR, description: "data directory (the feed's public key, logs)" }))
    .addOption(settingOption({ ...DATABASE_URL, description: "the replicas' PostgreSQL URL" }))
    .action(async (opts: AgentCliOptions) => {
      const { runAgent } = await import('./run-agent.js');
      const log = createLogger('agent', { host: opts.name });
      const dataDir = resolveDataDir(opts.dataDir);
      const databaseUrl = await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir });
      const replicaHost = opts.replicaHost ?? opts.host;
      if (replicaHost === '0.0.0.0' || replicaHost === '::')
        throw new Error('--replica-host must be an address other hosts reach, not a wildcard');
      const agent = await runAgent(
        {
          name: opts.name,
          host: opts.host,
          port: opts.port,
          replicaHost,
          dataDir,
          databaseUrl,
          stateDir: join(dataDir, 'agent', opts.name),
        },
        log,
      );
      stopOnSignals(() => agent.stop());
      reportReady({ address: agent.address });
    });
}
