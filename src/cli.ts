#!/usr/bin/env node
import { Command } from 'commander';
import { benchCommand, benchReplicaCommand, benchWorkloadCommand } from './bench/command.js';
import { statusCommand } from './client/status-command.js';
import { tradeCommand } from './client/trade-command.js';
import { dbCommand } from './common/db-command.js';
import { injectCommand } from './fault-injector/command.js';
import { replicaCommand } from './replica/command.js';
import { managerCommand } from './replication-manager/command.js';
import { feedCommand } from './stock-feed/command.js';
import { upCommand } from './up/command.js';
import { verifyCommand } from './verify/command.js';
import { workloadCommand } from './workload/command.js';

// A reader that stops early (`hedge trade < script | head`) is no error: end quietly, with the status
// of a program that SIGPIPE ended (128 + 13), as the shell expects.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(141);
});

const program = new Command('hedge')
  .description(
    'hedge: an actively replicated stock-trading server (gRPC replicas over PostgreSQL, exactly once)',
  )
  .showHelpAfterError()
  .addCommand(upCommand())
  .addCommand(tradeCommand())
  .addCommand(statusCommand())
  .addCommand(injectCommand())
  .addCommand(verifyCommand())
  .addCommand(workloadCommand())
  .addCommand(dbCommand())
  .addCommand(feedCommand())
  .addCommand(managerCommand())
  .addCommand(replicaCommand())
  .addCommand(benchCommand())
  .addCommand(benchReplicaCommand())
  .addCommand(benchWorkloadCommand());

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`hedge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
