import { Command } from 'commander';
import { REPLICATION_MODES, type ReplicationMode } from '../client/replication-mode.js';
import { choiceOption, defaulted, positiveDurationOption } from '../common/cli-options.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import {
  DATA_DIR,
  FEED_ADDRESS,
  MANAGER_ADDRESS,
  PASSWORD,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  settingOption,
} from '../common/settings.js';

interface TradeCliOptions {
  dataDir?: string;
  manager?: string;
  feed?: string;
  mode: ReplicationMode;
  deadline: number;
  user?: string;
  password?: string;
  metricsPort?: number;
  metricsHost?: string;
}

export function tradeCommand(): Command {
  return withMetricsOptions(new Command('trade'))
    .description(
      'The terminal trading client: register, log in, deposit, quote, buy, sell, portfolio, trades — each call ' +
        'sent to the replicas in the chosen mode, and answered with which replica answered, attempts and latency. ' +
        'Reads commands from the terminal, or a script from stdin (one command per line).',
    )
    .addOption(settingOption({ ...DATA_DIR, description: 'data directory of the running system' }))
    .addOption(settingOption(MANAGER_ADDRESS))
    .addOption(settingOption(FEED_ADDRESS))
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
        positiveDurationOption,
        '5s',
      ),
    )
    .option('--user <name>', 'log in as this user at start')
    .addOption(settingOption(PASSWORD))
    .action(async (opts: TradeCliOptions) => {
      const { ReplicatedClient } = await import('../client/replicated-client.js');
      const { TradingSession } = await import('../client/trading-session.js');
      const { QuoteSource } = await import('../client/quote-source.js');
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { runTerminal } = await import('./terminal.js');
      // Checked before anything is sent: a login asked for and not done would go unnoticed.
      if (opts.password !== undefined && !opts.user) throw new Error('--password needs --user');
      const password = opts.user ? await resolveSetting(PASSWORD, opts.password) : undefined;
      const interactive = process.stdin.isTTY === true;
      // A terminal asks for it, echo off; a script has no one to ask.
      if (opts.user && !password && !interactive)
        throw new Error('--user needs --password or HEDGE_PASSWORD');
      const dataDir = resolveDataDir(opts.dataDir);
      const manager = await requireSetting(MANAGER_ADDRESS, opts.manager, { dataDir });
      const feed = await requireSetting(FEED_ADDRESS, opts.feed, { dataDir });
      const client = await ReplicatedClient.connect({
        manager,
        mode: opts.mode,
        deadlineMs: opts.deadline,
      });
      const quotes = new QuoteSource(feed);
      const session = new TradingSession(client);
      // The client library's figures for this session's calls, while it runs.
      const metrics = await serveMetricsIfAsked(opts, undefined);
      if (metrics) process.stderr.write(`client metrics: ${metrics.url}\n`);
      try {
        if (opts.user && password) await session.login(opts.user, password);
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
          opts.user && !password ? opts.user : undefined,
        );
        // A script that met a refusal or an error did not do what it says.
        if (!interactive && failed > 0) process.exitCode = 1;
      } finally {
        quotes.close();
        client.close();
        await metrics?.close();
      }
    });
}
