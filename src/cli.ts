#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { agentCommand } from './agent/command.js';
import {
  benchCommand,
  benchIdleCommand,
  benchReplicaCommand,
  benchWorkloadCommand,
} from './bench/command.js';
import { benchManagerRestartCommand } from './bench/manager-restart-command.js';
import { adminCommand } from './common/admin-command.js';
import { examples } from './common/cli-options.js';
import { dbCommand } from './common/db-command.js';
import { PACKAGE_ROOT } from './common/paths.js';
import { injectCommand } from './fault-injector/command.js';
import { replicaCommand } from './replica/command.js';
import { managerCommand } from './replication-manager/command.js';
import { feedCommand } from './stock-feed/command.js';
import { certsCommand } from './tls/certs-command.js';
import { addTransportOptions, COMMAND_IDENTITY, configureTransportFor } from './tls/transport-options.js';
import { statusCommand } from './trade/status-command.js';
import { tradeCommand } from './trade/trade-command.js';
import { upCommand } from './up/command.js';
import { verifyCommand } from './verify/command.js';
import { workloadCommand } from './workload/command.js';

// A reader that stops early (`hedge trade < script | head`) is no error: end quietly, with the status
// of a program that SIGPIPE ended (128 + 13), as the shell expects.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(141);
});

/** A line or two of each command in use, shown at the end of its --help. */
const EXAMPLES: Record<string, string[]> = {
  up: ['hedge up', 'hedge up --replicas 5 --min 3 --allow-fault-injection'],
  trade: [
    'hedge trade',
    'hedge trade --mode passive < script.txt   # one command per line, e.g. "buy ABC 10"',
  ],
  status: ['hedge status', 'hedge status --json'],
  inject: [
    'hedge inject --kinds crash,hang --every 15s',
    'hedge inject --kinds slow --at 5s,20s --slow-delay 500ms',
  ],
  verify: ['hedge verify', 'hedge verify --json'],
  workload: [
    'hedge workload seng468/workloads/10User_testWorkLoad',
    'hedge workload FILE --mode passive --json',
  ],
  db: ['hedge db --data-dir /tmp/hedge'],
  admin: ['hedge admin --data-dir /var/lib/hedge   # with DATABASE_URL set', 'hedge admin --reset'],
  feed: ['hedge feed --port 0 --tick 500ms', 'hedge feed --mode fixed --price ABC=12.50'],
  manager: ['hedge manager --replicas 3 --min 2 --heartbeat-interval 100ms'],
  replica: ['hedge replica --database-url postgres://localhost/hedge --port 0'],
  agent: ['hedge agent --name h1 --host 10.0.0.11 --port 50560 --database-url postgres://10.0.0.10/hedge'],
  bench: ['hedge bench', 'hedge bench --configs passive,active --faults crash --duration 30s'],
  'bench-replica': ['hedge bench-replica', 'hedge bench-replica --clients 1,4,16 --duration 5s'],
  certs: ['hedge certs ca', 'hedge certs issue --role replica --host 10.0.0.7 --out ./tls-10.0.0.7'],
  'bench-workload': ['hedge bench-workload', 'hedge bench-workload seng468/workloads/10User_testWorkLoad'],
  'bench-manager-restart': ['hedge bench-manager-restart', 'hedge bench-manager-restart --rounds 10'],
  'bench-idle': ['hedge bench-idle', 'hedge bench-idle --spares 0 --duration 60s'],
};

const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};

const program = new Command('hedge')
  .description(
    'hedge: an actively replicated stock-trading server (gRPC replicas over PostgreSQL, exactly once)',
  )
  .version(version)
  .showHelpAfterError();
for (const command of [
  upCommand(),
  tradeCommand(),
  statusCommand(),
  injectCommand(),
  verifyCommand(),
  workloadCommand(),
  dbCommand(),
  adminCommand(),
  feedCommand(),
  managerCommand(),
  replicaCommand(),
  agentCommand(),
  benchCommand(),
  benchReplicaCommand(),
  benchWorkloadCommand(),
  benchManagerRestartCommand(),
  certsCommand(),
  benchIdleCommand(),
]) {
  if (COMMAND_IDENTITY[command.name()]) addTransportOptions(command);
  program.addCommand(command.addHelpText('after', examples(...(EXAMPLES[command.name()] ?? []))));
}
// mTLS (or --insecure, said so) is set before any command opens a channel or a server.
program.hook('preAction', async (_program, action) => {
  await configureTransportFor(action.name(), action.opts());
});

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`hedge: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
