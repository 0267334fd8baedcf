import { Command, InvalidArgumentError, Option } from 'commander';
import {
  choiceOption,
  collect,
  defaulted,
  durationOption,
  intOption,
  listOption,
  positiveDurationOption,
} from '../common/cli-options.js';
import { reportReady, stopOnSignals } from '../common/hedge-process.js';
import { createLogger } from '../common/logger.js';
import { serveMetricsIfAsked, withMetricsOptions } from '../common/metrics-options.js';
import { parseAmount } from '../common/money.js';
import { removeRunFile, writeRunFile } from '../common/run-files.js';
import { DATA_DIR, resolveDataDir, settingOption } from '../common/settings.js';
import { parseSymbol } from '../common/symbols.js';
import { DEFAULT_SYMBOLS } from './default-symbols.js';

interface FeedCliOptions {
  metricsPort?: number;
  metricsHost?: string;
  dataDir?: string;
  name: string;
  host: string;
  port: number;
  symbols: string[];
  anySymbol?: boolean;
  seed: number;
  mode: 'walk' | 'fixed';
  price: string[];
  tick: number;
  quoteTtl: number;
}

/** A feed's name is a directory and a run file's name under the data directory: clear of the others' ('feeds', 'feed-keys'). */
function nameOption(value: string): string {
  if (!/^feed(-[1-9][0-9]{0,3})?$/.test(value))
    throw new InvalidArgumentError("expected 'feed' or 'feed-<n>' (e.g. feed-2)");
  return value;
}

export function feedCommand(): Command {
  return withMetricsOptions(new Command('feed'))
    .description(
      'Run the stock feed: prices in integer cents, a pure function of (seed, symbol, tick), so that feeds with ' +
        'the same seed quote the same price for the same tick; every quote signed (RSA-2048, SHA-256) ' +
        'and valid for 10 s. Its key pair is made on first start under <data-dir>/<name>/, its public half also ' +
        'put in <data-dir>/feed-keys/, the keys replicas of the data directory trust.',
    )
    .addOption(settingOption(DATA_DIR))
    .option(
      '--name <name>',
      'names its key directory and run file, for several feeds on one data directory',
      nameOption,
      'feed',
    )
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0 picks a free one)', intOption(0, 65535), 0)
    .addOption(
      defaulted(
        '--symbols <list>',
        'comma-separated symbols to quote',
        listOption,
        DEFAULT_SYMBOLS.join(','),
      ),
    )
    .option(
      '--any-symbol',
      'also quote any well-formed symbol on first request (as the SEng 468 quote server did)',
    )
    .option('--seed <n>', 'random-walk seed', intOption(0, 2 ** 32 - 1), 1)
    .option(
      '--mode <mode>',
      "'walk' moves prices every tick; 'fixed' never does",
      choiceOption(['walk', 'fixed']),
      'walk',
    )
    .addOption(
      new Option('--price <SYM=dollars>', 'starting price of a symbol (repeatable)')
        .argParser(collect)
        .default([], 'none'),
    )
    .addOption(
      defaulted(
        '--tick <duration>',
        'tick interval; tick n starts n intervals after the Unix epoch, and quotes carry n as their sequence',
        positiveDurationOption,
        '1s',
      ),
    )
    .addOption(defaulted('--quote-ttl <duration>', 'how long a quote stays valid', durationOption, '10s'))
    .action(async (opts: FeedCliOptions) => {
      const { runFeed } = await import('./run-feed.js');
      const log = createLogger('feed');
      const initialPrices = new Map(
        opts.price.map((entry) => {
          const [symbol = '', dollars = ''] = entry.split('=');
          return [parseSymbol(symbol), parseAmount(dollars, `price of ${symbol}`)] as const;
        }),
      );
      const feed = await runFeed(
        {
          dataDir: resolveDataDir(opts.dataDir),
          name: opts.name,
          host: opts.host,
          port: opts.port,
          symbols: [...new Set([...opts.symbols.map((s) => parseSymbol(s)), ...initialPrices.keys()])],
          anySymbol: opts.anySymbol ?? false,
          seed: opts.seed,
          mode: opts.mode,
          initialPrices,
          tickMs: opts.tick,
          quoteTtlMs: opts.quoteTtl,
        },
        log,
      );
      const dataDir = resolveDataDir(opts.dataDir);
      const metrics = await serveMetricsIfAsked(opts, log, { dataDir, component: 'feed', id: opts.name });
      writeRunFile(dataDir, opts.name, { address: feed.address });
      stopOnSignals(async () => {
        await feed.stop();
        await metrics?.close();
        removeRunFile(dataDir, opts.name);
      });
      reportReady({ address: feed.address, keyId: feed.keyId, ...(metrics ? { metrics: metrics.url } : {}) });
    });
}
