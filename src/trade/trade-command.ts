import { Command } from 'commander';
import { REPLICATION_MODES, type ReplicationMode } from '../client/replication-mode.js';
import { choiceOption, defaulted, durationOption } from '../common/cli-options.js';
import { resolveDataDir } from '../common/paths.js';
import { locate } from '../common/run-files.js';

interface TradeCliOptions {
  dataDir?: string;
  manager?: string;
  feed?: string;
  mode: ReplicationMode;
  deadline: number;
  user?: string;
  password?: string;
}

export function tradeCommand(): Command {
  return new Command('trade')
    .description(
      'The terminal trading client: register, log in, deposit, quote, buy, sell, portfolio, trades — each call ' +
        'sent to the replicas in the chosen mode, and answered with which replica answered, attempts and latency. ' +
        'Reads commands from the terminal, or a script from stdin (one command per line).',
    )
    .option('--data-dir <dir>', 'data directory of the running system (default: $HEDGE_DATA_DIR or .hedge)')
    .option('--manager <address>', "the manager's address (default: the running system's)")
    .option('--feed <address>', "the stock feed's address (default: the running system's)")
    .option(
      '--mode <mode>',
      'active (every replica), passive (one, fail over) or hedged (two)',
      choiceOption(REPLICATION_MODES),
      'active',
    )
    .addOption(
      defaulted(
        '--deadline <duration>',
        'one deadline per call, across all its attempts',
        durationOption,
        '5s',
      ),
    )
    .option('--user <name>', 'log in as this user at start')
    .option('--password <password>', 'with --user (or set HEDGE_PASSWORD)')
    .action(async (opts: TradeCliOptions) => {
      const { ReplicatedClient } = await import('../client/replicated-client.js');
      const { TradingSession } = await import('../client/trading-session.js');
      const { QuoteSource } = await import('../client/quote-source.js');
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { runTerminal } = await import('./terminal.js');
      const dataDir = resolveDataDir(opts.dataDir);
      const manager = await locate(opts.manager, dataDir, 'manager', 'address', '--manager');
      const feed = await locate(opts.feed, dataDir, 'feed', 'address', '--feed');
      const client = await ReplicatedClient.connect({
        manager,
        mode: opts.mode,
        deadlineMs: opts.deadline,
      });
      const quotes = new QuoteSource(feed);
      const session = new TradingSession(client);
      try {
        const password = opts.password ?? process.env.HEDGE_PASSWORD;
        if (opts.user && password) await session.login(opts.user, password);
        const interactive = process.stdin.isTTY === true;
        const failed = await runTerminal(
          {
            session,
            quotes,
            status: () => fetchStatusFrom(manager),
            out: process.stdout,
            err: process.stderr,
          },
          process.stdin,
          interactive,
        );
        // A script that met a refusal or an error did not do what it says.
        if (!interactive && failed > 0) process.exitCode = 1;
      } finally {
        quotes.close();
        client.close();
      }
    });
}
