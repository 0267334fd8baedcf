#!/usr/bin/env node
import { Command } from 'commander';
import { benchReplicaCommand } from './bench/command.js';
import { dbCommand } from './common/db-command.js';
import { replicaCommand } from './replica/command.js';
import { feedCommand } from './stock-feed/command.js';
import { upCommand } from './up/command.js';

const program = new Command('hedge')
  .description(
    'hedge: an actively replicated stock-trading server (gRPC replicas over PostgreSQL, exactly once)',
  )
  .showHelpAfterError()
  .addCommand(upCommand())
  .addCommand(dbCommand())
  .addCommand(feedCommand())
  .addCommand(replicaCommand())
  .addCommand(benchReplicaCommand());

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`hedge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
