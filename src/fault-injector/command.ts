import { Command, InvalidArgumentError, Option } from 'commander';
import {
  choiceListOption,
  choiceOption,
  defaulted,
  durationOption,
  intOption,
  listOption,
  positiveDurationOption,
} from '../common/cli-options.js';
import { formatDuration } from '../common/duration.js';
import { stopOnSignals } from '../common/hedge-process.js';
import { withRunningSystemOptions } from '../common/running-system-options.js';
import { DATABASE_URL, MANAGER_ADDRESS, requireSetting, resolveDataDir } from '../common/settings.js';
import { DELAY_SCOPES, type DelayScope } from './host-delay-rules.js';
import { FAULT_KINDS, type FaultKind } from './injector.js';

interface InjectCliOptions {
  dataDir?: string;
  manager?: string;
  databaseUrl?: string;
  kinds: FaultKind[];
  every?: number;
  at?: number[];
  count?: number;
  duration?: number;
  seed: number;
  min?: number;
  hangFor: number;
  downFor: number;
  delay: number;
  delayScope: DelayScope;
  slowDelay: number;
  slowFor: number;
}

/** Distinct offsets: two injections at one moment are one too many, decided on the same count. */
function atOffsets(value: string): number[] {
  const offsets = listOption(value).map(durationOption);
  if (offsets.length === 0) throw new InvalidArgumentError('expected at least one offset');
  const repeated = offsets.find((t, i) => offsets.indexOf(t) !== i);
  if (repeated !== undefined) {
    throw new InvalidArgumentError(`offset ${formatDuration(repeated)} is given twice; each must differ`);
  }
  return offsets;
}

export function injectCommand(): Command {
  return withRunningSystemOptions(
    new Command('inject').description(
      'Inject faults into the running replicas on a schedule: crash (SIGKILL), hang (SIGSTOP, then SIGCONT) or ' +
        'slow (added latency; replicas need --allow-fault-injection), at a seeded-random serving replica, never ' +
        "below the minimum of serving replicas; or db-primary (SIGKILL the database primary's postmaster, for " +
        '`hedge up --ha`), or feed (SIGKILL a seeded-random stock feed of the data directory, never the last ' +
        'one running); or partition (take a host’s link down for --down-for, so peers see silence) or ' +
        'host-crash (SIGKILL every process on a host and take its link down for --down-for, silent as a crashed ' +
        'host; then its link is up with nothing running) or delay (add --delay to each chunk of a host’s TCP ' +
        'connections, each way, for --down-for: with --delay-scope all (the default) those other hosts make to ' +
        'it and those it makes (to the database, the feeds), with incoming only the former; its established ' +
        'ones are reset to reconnect through the delaying proxy; needs nft) at a seeded-random host of the manager’s ' +
        'that runs a serving replica, never below the minimum: simulated hosts only (network namespaces, as ' +
        'root; `hedge bench --hosts`). Prints one JSON line per injection. Runs on the replicas’ machine.',
    ),
    MANAGER_ADDRESS,
    { ...DATABASE_URL, description: 'the database, for --kinds db-primary' },
  )
    .addOption(
      defaulted(
        '--kinds <list>',
        'fault kinds to choose from',
        choiceListOption(FAULT_KINDS, 'fault kind'),
        'crash',
      ),
    )
    .addOption(
      new Option('--every <duration>', 'inject every so often (default 15s unless --at is given)')
        .argParser(positiveDurationOption)
        .conflicts('at'),
    )
    .option('--at <list>', 'inject at these offsets from the start, e.g. 5s,20s,40s', atOffsets)
    .option('--count <n>', 'stop after this many injections', intOption(1))
    .option('--duration <duration>', 'stop after this long', durationOption)
    .option('--seed <n>', 'seed of the target and kind choices', intOption(0, 2 ** 32 - 1), 1)
    .option('--min <n>', "fewest serving replicas to leave (default: the manager's minimum)", intOption(0))
    .addOption(
      defaulted('--hang-for <duration>', 'how long a hang lasts before SIGCONT', durationOption, '5s'),
    )
    .addOption(
      defaulted(
        '--down-for <duration>',
        'how long a partitioned or crashed host stays cut off before its link is up again (a delay: how long it lasts)',
        positiveDurationOption,
        '10s',
      ),
    )
    .addOption(
      defaulted(
        '--delay <duration>',
        'what a delay fault adds to each chunk of a host’s connections, each way (a round trip pays it twice)',
        positiveDurationOption,
        '100ms',
      ),
    )
    .addOption(
      defaulted(
        '--delay-scope <scope>',
        'which of a host’s connections a delay covers: all (to it and from it, to the database and feeds) or incoming',
        choiceOption(DELAY_SCOPES),
        'all',
      ),
    )
    .addOption(
      defaulted(
        '--slow-delay <duration>',
        'latency a slow fault adds to every call',
        durationOption,
        '200ms',
      ),
    )
    .addOption(defaulted('--slow-for <duration>', 'how long a slow fault lasts', durationOption, '5s'))
    .action(async (opts: InjectCliOptions) => {
      const { FaultInjector } = await import('./injector.js');
      let failed = 0;
      const dataDir = resolveDataDir(opts.dataDir);
      const injector = new FaultInjector(
        {
          manager: await requireSetting(MANAGER_ADDRESS, opts.manager, { dataDir }),
          databaseUrl: opts.kinds.includes('db-primary')
            ? await requireSetting(DATABASE_URL, opts.databaseUrl, { dataDir })
            : undefined,
          dataDir,
          kinds: opts.kinds,
          everyMs: opts.every ?? (opts.at ? undefined : 15_000),
          atMs: opts.at,
          count: opts.count,
          durationMs: opts.duration,
          seed: opts.seed,
          minimum: opts.min,
          hangMs: opts.hangFor,
          hostDownMs: opts.downFor,
          hostDelayMs: opts.delay,
          hostDelayScope: opts.delayScope,
          slowDelayMs: opts.slowDelay,
          slowDurationMs: opts.slowFor,
        },
        (injection) => {
          if (injection.outcome === 'failed') failed += 1;
          process.stdout.write(`${JSON.stringify(injection)}\n`);
        },
      );
      // A skipped injection kept the minimum, as asked; a failed one did not do what was asked.
      const verdict = () => {
        if (failed > 0) throw new Error(`${failed} injection(s) failed; their lines say why ("detail")`);
      };
      stopOnSignals(
        async () => {
          // A partition or delay under way heals now: an interrupted injector leaves no host cut off or delayed.
          injector.stop(true);
          await injector.finished;
          verdict();
        },
        (err) => process.stderr.write(`hedge inject: ${(err as Error).message}\n`),
      );
      injector.start();
      await injector.finished;
      verdict();
    });
}
