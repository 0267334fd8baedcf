import { Command, InvalidArgumentError } from 'commander';
import { REPLICATION_MODES, type ReplicationMode } from '../client/replication-mode.js';
import { choiceOption, defaulted, positiveDurationOption } from '../common/cli-options.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import { withRunningSystemOptions } from '../common/running-system-options.js';
import {
  FEED_ADDRESS,
  MANAGER_ADDRESS,
  PASSWORD,
  requireSetting,
  resolveDataDir,
  resolveSetting,
  settingOption,
} from '../common/settings.js';
import { isSymbol } from '../common/symbols.js';

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
  plain?: boolean;
  yes?: boolean;
  watch?: string[];
}

/** --watch's symbols, checked as the ticker's `watch` command checks one. */
function watchList(text: string): string[] {
  return text
    .split(',')
    .filter(Boolean)
    .map((s) => {
      const upper = s.trim().toUpperCase();
      if (!isSymbol(upper)) throw new InvalidArgumentError(`not a symbol: ${JSON.stringify(s)}`);
      return upper;
    });
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org). */
function colourWanted(out: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return out.isTTY === true && !env.NO_COLOR;
}

export function tradeCommand(): Command {
  return withRunningSystemOptions(
    withMetricsOptions(new Command('trade')).description(
      'The terminal trading client: register, log in, deposit, quote, buy, sell, portfolio, trades — each call ' +
        'sent to the replicas in the chosen mode, and answered with which replica answered, attempts and latency. ' +
        'On a terminal it is full screen: a live ticker, positions with P&L, day-trading orders, and the ' +
        'replication as it happens; with --plain, or when stdin is not a terminal, it reads one command per line ' +
        '(a script from stdin).',
    ),
    MANAGER_ADDRESS,
    FEED_ADDRESS,
  )
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
    .option('--plain', 'one command per line, even on a terminal')
    .option('--yes', 'full screen: send buys and sells without asking first')
    .option('--watch <symbols>', 'full screen: symbols on the ticker, comma-separated', watchList)
    .action(async (opts: TradeCliOptions) => {
      const { ReplicatedClient } = await import('../client/replicated-client.js');
      const { TradingSession } = await import('../client/trading-session.js');
      const { QuoteSource } = await import('../client/quote-source.js');
      const { fetchStatusFrom } = await import('../client/manager-client.js');
      const { runTerminal } = await import('./terminal.js');
      const { HistoryFile } = await import('./history-file.js');
      // Checked before anything is sent: a login asked for and not done would go unnoticed.
      if (opts.password !== undefined && !opts.user) throw new Error('--password needs --user');
      const password = opts.user ? await resolveSetting(PASSWORD, opts.password) : undefined;
      const interactive = process.stdin.isTTY === true;
      const fullScreen = interactive && process.stdout.isTTY === true && !opts.plain;
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
        if (fullScreen) {
          // ink draws only its last frame, and chalk no colour, when they think they run in CI: a
          // terminal is a person. Their test is the environment, read as they load (below).
          for (const name of Object.keys(process.env))
            if (name === 'CI' || name === 'CONTINUOUS_INTEGRATION' || name.startsWith('CI_'))
              delete process.env[name];
          // React's development build warns on the terminal the screen is drawn on.
          process.env.NODE_ENV ??= 'production';
          const { runFullScreen } = await import('./full-screen.js');
          await runFullScreen({
            session,
            quotes,
            feedAddress: feed,
            status: () => fetchStatusFrom(manager),
            history: new HistoryFile(dataDir),
            watch: opts.watch ?? [],
            confirm: !opts.yes,
            colour: colourWanted(process.stdout, process.env),
            ...(opts.user && !password ? { loginAs: opts.user } : {}),
          });
          return;
        }
        const failed = await runTerminal(
          {
            session,
            quotes,
            status: () => fetchStatusFrom(manager),
            out: process.stdout,
            err: process.stderr,
            history: new HistoryFile(dataDir),
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
